// Decorates `chatSignals`: small ephemeral events (presence changes, typing) sent to every
// instance, over Redis pub/sub on connections of their own when REDIS_URL or
// REDIS_CLUSTER_NODES is set, within this instance otherwise. Never stored.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { redisConnections } from '../lib/delivery/redis-connection.js'
import { LocalSignals, type Signals } from '../lib/delivery/signals.js'
import { RedisSignals } from '../lib/delivery/signals-redis.js'

declare module 'fastify' {
  interface FastifyInstance {
    chatSignals: Signals
  }
}

async function signals (app: FastifyInstance): Promise<void> {
  const connections = redisConnections(app.chatSettings)
  if (connections === undefined) {
    app.decorate('chatSignals', new LocalSignals((error) => app.log.warn({ err: error }, 'a signal listener failed')))
    return
  }
  const { publisher, subscriber } = connections
  for (const [name, connection] of Object.entries({ publisher, subscriber })) {
    connection.on('error', (error) => app.log.debug({ err: error, connection: `signals ${name}` }, 'Redis connection error'))
  }
  const redis = new RedisSignals({ publisher, subscriber, log: app.log })
  app.decorate('chatSignals', redis)
  // ioredis subscribes again on every reconnect: this only queues the first SUBSCRIBE.
  redis.start().catch((error: unknown) => app.log.warn({ err: error }, 'subscribing to signals failed'))
  app.addHook('onClose', async () => connections.close())
}

export default fp(signals, { name: 'chat-signals', dependencies: ['chat-settings'] })
