// Decorates `chatHub`: which local WebSockets are open and which channels each is subscribed to,
// and `chatHeartbeat`, which pings every socket and cuts off the ones that answer nothing. On
// close every socket is closed with 1001 (going away), and a client that has not finished the
// closing handshake within a second is cut off: the server's close waits for every connection,
// and the steps that save unwritten messages come after it. Feeds the delivery and connection
// metrics.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Hub } from '../lib/delivery/hub.js'
import { Heartbeat } from '../lib/delivery/heartbeat.js'
import type { Connection } from '../lib/delivery/connection.js'
import { CLOSE, CLOSE_REASON } from '../lib/protocol/wire.js'

const CLOSE_HANDSHAKE_GRACE_MS = 1_000

declare module 'fastify' {
  interface FastifyInstance {
    chatHub: Hub
    /** Undefined when WS_PING_INTERVAL_MS is 0. */
    chatHeartbeat: Heartbeat<Connection> | undefined
  }
}

async function hub (app: FastifyInstance): Promise<void> {
  const metrics = app.chatMetrics
  const { wsPingIntervalMs, wsPongTimeoutMs } = app.chatSettings
  const channels = new Hub((recipients) => metrics.delivered(recipients))
  metrics.watchConnections(() => channels.size)
  metrics.watchSubscriptions(() => channels.subscriptions)
  app.decorate('chatHub', channels)
  const heartbeat = wsPingIntervalMs === 0
    ? undefined
    : new Heartbeat<Connection>({ intervalMs: wsPingIntervalMs, timeoutMs: wsPongTimeoutMs, onTimeout: () => metrics.heartbeatTimedOut() })
  app.decorate('chatHeartbeat', heartbeat)
  app.addHook('preClose', async () => {
    heartbeat?.stop()
    const closing = [...channels.clients()].map((client) => client.close(CLOSE.goingAway, CLOSE_REASON.goingAway, CLOSE_HANDSHAKE_GRACE_MS))
    await Promise.all(closing)
  })
  app.addHook('onClose', async () => heartbeat?.stop())
}

export default fp(hub, { name: 'chat-hub', dependencies: ['chat-metrics', 'chat-settings'] })
