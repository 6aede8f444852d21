// Decorates `chatHub`: which local WebSockets listen to which channel. On close every
// socket is closed with 1001 (going away), and a client that has not finished the closing
// handshake within a second is cut off: the server's close waits for every connection, and
// the steps that save unwritten messages come after it. Feeds the delivery and connection
// metrics.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Hub } from '../lib/delivery/hub.js'

const CLOSE_HANDSHAKE_GRACE_MS = 1_000

declare module 'fastify' {
  interface FastifyInstance {
    chatHub: Hub
  }
}

async function hub (app: FastifyInstance): Promise<void> {
  const metrics = app.chatMetrics
  const channels = new Hub((recipients) => metrics.delivered(recipients))
  metrics.watchConnections(() => channels.size)
  app.decorate('chatHub', channels)
  app.addHook('preClose', async () => {
    const closing = [...channels.subscribers()].map((subscriber) => subscriber.close(1001, 'server shutting down', CLOSE_HANDSHAKE_GRACE_MS))
    await Promise.all(closing)
  })
}

export default fp(hub, { name: 'chat-hub', dependencies: ['chat-metrics'] })
