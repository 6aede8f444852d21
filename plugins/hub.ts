// Decorates `chatHub`: which local WebSockets listen to which channel. On close every
// socket is closed with 1001 (going away) before the server stops. Feeds the delivery and
// connection metrics.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Hub } from '../lib/hub.js'

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
    for (const subscriber of channels.subscribers()) subscriber.close(1001, 'server shutting down')
  })
}

export default fp(hub, { name: 'chat-hub', dependencies: ['chat-metrics'] })
