// Decorates `chatFanout`, the ordering and delivery of messages to WebSocket clients on every
// instance, and `chatCounts`, the per-channel socket counts across them: over Redis when
// REDIS_URL or REDIS_CLUSTER_NODES is set (its state is a metric); a single instance otherwise.
import { setTimeout as sleep } from 'node:timers/promises'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { singleInstance, type Fanout } from '../lib/delivery/broker.js'
import { redisConnections } from '../lib/delivery/redis-connection.js'
import { RedisFanout } from '../lib/delivery/broker-redis.js'
import { localCounts, type ChannelCounts } from '../lib/delivery/presence-counts.js'
import { RedisCounts } from '../lib/delivery/presence-counts-redis.js'
import { LocalSequencer } from '../lib/messages/sequencer.js'

/** A single instance forgets the sequencer state of channels idle this long (their next message starts a new epoch). */
const LOCAL_SEQUENCE_IDLE_MS = 10 * 60 * 1000

declare module 'fastify' {
  interface FastifyInstance {
    chatFanout: Fanout
    chatCounts: ChannelCounts
  }
}

async function fanout (app: FastifyInstance): Promise<void> {
  const { countsTtlMs } = app.chatSettings
  const connections = redisConnections(app.chatSettings)
  if (connections === undefined) {
    const sequencer = new LocalSequencer()
    const sweep = setInterval(() => sequencer.forgetIdle(LOCAL_SEQUENCE_IDLE_MS), 60_000).unref()
    app.addHook('onClose', async () => clearInterval(sweep))
    app.decorate('chatFanout', singleInstance(app.chatHub, sequencer))
    app.decorate('chatCounts', localCounts(app.chatHub))
    return
  }
  const { publisher, subscriber, sharded, isUp } = connections
  for (const [name, connection] of Object.entries({ publisher, subscriber })) {
    connection.on('error', (error) => app.log.debug({ err: error, connection: name }, 'Redis connection error'))
    connection.on('close', () => app.log.warn({ connection: name }, 'Redis connection lost; local delivery and persistence go on'))
    connection.on('ready', () => app.log.info({ connection: name }, 'Redis connection ready'))
  }
  const redis = new RedisFanout({ hub: app.chatHub, publisher, subscriber, sharded, isUp, log: app.log })
  const counts = new RedisCounts({ hub: app.chatHub, publisher, countsTtlMs, log: app.log })
  app.decorate('chatFanout', redis)
  app.decorate('chatCounts', counts)
  app.chatMetrics.watchRedis(() => redis.status() === 'up')
  app.addHook('onReady', async () => {
    redis.start()
    counts.start()
  })
  app.addHook('onClose', async () => {
    redis.stop()
    // A Redis that stalls must not hold up the shutdown (the write queue flushes after this).
    await Promise.race([counts.stop(), sleep(1_000, undefined, { ref: false })])
    connections.close()
  })
}

export default fp(fanout, { name: 'chat-fanout', dependencies: ['chat-settings', 'chat-metrics', 'chat-hub'] })
