// Decorates `chatTyping`: a typing notice from a socket is relayed, through the signals, to the
// channel's other users' sockets on every instance. TYPING_INTERVAL_MS throttles each user and
// channel; notices are never stored.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Typing } from '../lib/delivery/typing.js'

declare module 'fastify' {
  interface FastifyInstance {
    chatTyping: Typing
  }
}

async function typing (app: FastifyInstance): Promise<void> {
  const metrics = app.chatMetrics
  const notices = new Typing({
    hub: app.chatHub,
    signals: app.chatSignals,
    intervalMs: app.chatSettings.typingIntervalMs,
    authorize: app.chatAuthorize,
    relayed: () => metrics.typingRelayed(),
    dropped: () => metrics.typingDropped()
  })
  app.decorate('chatTyping', notices)
  app.addHook('onReady', async () => notices.start())
  app.addHook('onClose', async () => notices.stop())
}

export default fp(typing, { name: 'chat-typing', dependencies: ['chat-settings', 'chat-metrics', 'chat-hub', 'chat-auth', 'chat-signals'] })
