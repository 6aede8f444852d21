// Decorates `chatTokenExpiry`: an open WebSocket is closed with 4001 "token expired" once its
// token stops being accepted (exp plus the clock tolerance). One timer serves every socket.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { ExpirySchedule } from '../lib/util/expiry-schedule.js'
import type { Subscriber } from '../lib/delivery/hub.js'

export const TOKEN_EXPIRED = { code: 4001, reason: 'token expired' } as const

declare module 'fastify' {
  interface FastifyInstance {
    chatTokenExpiry: TokenExpiry
  }
}

export interface TokenExpiry {
  /** Closes the subscriber when a token with this `exp` expires; a token without `exp` never does. */
  watch (subscriber: Subscriber, exp: number | undefined): void
  /** The subscriber went away first: forget it. */
  unwatch (subscriber: Subscriber, exp: number | undefined): void
}

async function tokenExpiry (app: FastifyInstance): Promise<void> {
  const toleranceS = app.chatSettings.jwtClockToleranceS
  const schedule = new ExpirySchedule<Subscriber>((subscriber) => subscriber.close(TOKEN_EXPIRED.code, TOKEN_EXPIRED.reason))
  app.decorate('chatTokenExpiry', {
    watch (subscriber, exp) {
      if (exp !== undefined) schedule.add(subscriber, exp + toleranceS)
    },
    unwatch (subscriber, exp) {
      if (exp !== undefined) schedule.remove(subscriber, exp + toleranceS)
    }
  } satisfies TokenExpiry)
  app.addHook('onClose', async () => schedule.clear())
}

export default fp(tokenExpiry, { name: 'chat-token-expiry', dependencies: ['chat-settings'] })
