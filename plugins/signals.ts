// Decorates `chatSignals`: small ephemeral events (read receipts) sent to every instance. This
// one keeps them within this instance; the Redis version of issue 32 replaces it. Never stored.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { LocalSignals, type Signals } from '../lib/delivery/signals.js'

declare module 'fastify' {
  interface FastifyInstance {
    chatSignals: Signals
  }
}

async function signals (app: FastifyInstance): Promise<void> {
  app.decorate('chatSignals', new LocalSignals((error) => app.log.warn({ err: error }, 'a signal listener failed')))
}

export default fp(signals, { name: 'chat-signals', dependencies: ['chat-settings'] })
