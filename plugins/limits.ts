// Decorates `chatLimits`: what one user, or all catch-ups together, may take of this instance.
// The message rate (a token bucket per user id, USER_MESSAGE_RATE and USER_MESSAGE_BURST) is
// checked by the intake for REST and WebSocket alike; the WebSocket route counts open sockets per
// user (USER_MAX_CONNECTIONS) and reserves catch-up memory (CATCH_UP_MEMORY_BYTES).
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { ConnectionCounter } from '../lib/limits/connection-counter.js'
import { MemoryBudget } from '../lib/limits/memory-budget.js'
import { RateLimiter } from '../lib/limits/rate-limiter.js'

declare module 'fastify' {
  interface FastifyInstance {
    chatLimits: ChatLimits
  }
}

export interface ChatLimits {
  messages: RateLimiter
  connections: ConnectionCounter
  catchUpMemory: MemoryBudget
}

async function limits (app: FastifyInstance): Promise<void> {
  const settings = app.chatSettings
  app.decorate('chatLimits', {
    messages: new RateLimiter({ rate: settings.userMessageRate, burst: settings.userMessageBurst }),
    connections: new ConnectionCounter(settings.userMaxConnections),
    catchUpMemory: new MemoryBudget(settings.catchUpMemoryBytes)
  } satisfies ChatLimits)
}

export default fp(limits, { name: 'chat-limits', dependencies: ['chat-settings'] })
