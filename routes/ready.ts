import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { cachedFor } from '../lib/util/cached-check.js'

const PING_TIMEOUT_MS = 1_000
const DEAD_LETTER_CHECK_TIMEOUT_MS = 1_000
/** The dead-letter check spawns a process: at most one per this period, however often /ready is polled. */
const DEAD_LETTER_CHECK_EVERY_MS = 2_000

const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not ready')]),
  database: Type.Union([Type.Literal('up'), Type.Literal('down')]),
  queueDepth: Type.Integer(),
  queueThreshold: Type.Integer(),
  accepting: Type.Boolean(),
  // Test-written (at most every 2 s): without it, messages MongoDB does not take cannot be kept.
  deadLetter: Type.Union([Type.Literal('writable'), Type.Literal('unwritable')]),
  // Reported, not required: without Redis, local delivery and persistence go on.
  redis: Type.Union([Type.Literal('single-instance'), Type.Literal('up'), Type.Literal('down')])
}, { examples: [{ status: 'ready', database: 'up', queueDepth: 0, queueThreshold: 10000, accepting: true, redis: 'single-instance' }] })

// Readiness, beside the seed's liveness check: 503 while the database is unreachable, the
// write queue is over its threshold, the dead-letter file cannot be written, or the service
// is shutting down.
const ready: FastifyPluginAsyncTypebox = async (app) => {
  const deadLetterWritable = cachedFor(DEAD_LETTER_CHECK_EVERY_MS, () =>
    app.chatDeadLetter.check(DEAD_LETTER_CHECK_TIMEOUT_MS).then(() => true, () => false))
  app.get('/ready', {
    schema: {
      operationId: 'ready',
      summary: 'Readiness',
      description: 'Not ready (503) while MongoDB does not answer a ping within 1 s, more than READY_QUEUE_THRESHOLD messages wait to be stored, ' +
        'or the service is shutting down. Redis is reported, not required.',
      tags: ['operations'],
      response: {
        200: { ...Readiness, description: 'Ready' },
        503: { ...Readiness, description: 'Not ready' }
      }
    }
  }, async (_request, reply) => {
    const writer = app.chatWriter
    const queueThreshold = app.chatSettings.readyQueueThreshold
    const [databaseUp, deadLetterOk] = await Promise.all([
      app.chatStore.ping(PING_TIMEOUT_MS).then(() => true, () => false),
      deadLetterWritable()
    ])
    const isReady = databaseUp && deadLetterOk && writer.accepting && writer.depth <= queueThreshold
    return reply.code(isReady ? 200 : 503).send({
      status: isReady ? 'ready' : 'not ready',
      database: databaseUp ? 'up' : 'down',
      queueDepth: writer.depth,
      queueThreshold,
      accepting: writer.accepting,
      deadLetter: deadLetterOk ? 'writable' : 'unwritable',
      redis: app.chatFanout.status()
    })
  })
}

export default ready
