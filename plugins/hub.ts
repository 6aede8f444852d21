// Decorates `chatHub`: which local WebSockets listen to which channel. On close every
// socket is closed with 1001 (going away) before the server stops.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Hub } from '../lib/hub.js'

declare module 'fastify' {
  interface FastifyInstance {
    chatHub: Hub
  }
}

async function hub (app: FastifyInstance): Promise<void> {
  const channels = new Hub()
  app.decorate('chatHub', channels)
  app.addHook('preClose', async () => {
    for (const subscriber of channels.subscribers()) subscriber.close(1001, 'server shutting down')
  })
}

export default fp(hub, { name: 'chat-hub' })
