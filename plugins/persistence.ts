// Decorates `chatWriter`: the background writer that stores every accepted message. Batches
// whose retries ran out, and whatever is unwritten at shutdown, go to the dead-letter file,
// which is replayed at start and, retrying until MongoDB is back, after each hand-off. While
// the file cannot be written, batches stay queued; at shutdown that loses them, and closing
// fails with CHAT_MESSAGES_NOT_SAVED after a log line that counts them. Feeds the stored,
// dead-letter and batch-write metrics.
import { setTimeout as sleep } from 'node:timers/promises'
import fp from 'fastify-plugin'
import pRetry from 'p-retry'
import type { FastifyInstance } from 'fastify'
import { MessagesNotSaved } from '../lib/protocol/errors.js'
import { MessageWriter } from '../lib/storage/message-writer.js'
import { writeBatchWindowMsOf } from '../lib/config/settings.js'

declare module 'fastify' {
  interface FastifyInstance {
    chatWriter: MessageWriter
  }
}

async function persistence (app: FastifyInstance): Promise<void> {
  const settings = app.chatSettings
  const store = app.chatStore
  const metrics = app.chatMetrics
  const deadLetter = app.chatDeadLetter
  const stop = new AbortController()
  let replaying: Promise<void> | undefined
  let replayWanted = false

  const insert = (batch: Parameters<typeof store.insertBatch>[0]) => store.insertBatch(batch)

  /** One replay at a time; a replay asked for while one runs happens after it. */
  function replayDeadLetters (): void {
    replayWanted = true
    if (replaying !== undefined || stop.signal.aborted) return
    replayWanted = false
    replaying = pRetry(() => deadLetter.replay(insert, settings.writeBatchSize), {
      retries: Number.POSITIVE_INFINITY,
      minTimeout: settings.writeRetryMinDelayMs,
      maxTimeout: settings.writeRetryMaxDelayMs,
      signal: stop.signal
    }).then(
      (count) => {
        metrics.replayed(count)
        if (count > 0) app.log.info({ count, file: deadLetter.path }, 'replayed dead-lettered messages into MongoDB')
      },
      () => {}
    ).finally(() => {
      replaying = undefined
      if (replayWanted) replayDeadLetters()
    })
  }

  const writer = new MessageWriter({
    insert: metrics.timedWrites(insert),
    retryAttempts: settings.retryAttempts,
    batchSize: settings.writeBatchSize,
    batchWindowMs: writeBatchWindowMsOf(settings),
    maxQueue: settings.writeQueueMax,
    retryMinDelayMs: settings.writeRetryMinDelayMs,
    retryMaxDelayMs: settings.writeRetryMaxDelayMs,
    log: app.log,
    onRetriesExhausted: async (batch) => {
      await deadLetter.append(batch).catch((error: unknown) => {
        app.log.error({ err: error, count: batch.length, queued: writer.depth, file: deadLetter.path }, 'the dead-letter file is not writable: these messages stay queued and are tried again')
        throw error
      })
      metrics.deadLettered(batch.length)
      // Replays (retrying until MongoDB is back) even if no new message comes to trigger it.
      replayDeadLetters()
      app.log.error({ count: batch.length, file: deadLetter.path }, 'messages written to the dead-letter file; they are replayed when MongoDB accepts writes again')
    }
  })
  app.decorate('chatWriter', writer)
  metrics.watchQueueDepth(() => writer.depth)

  app.addHook('onReady', async () => replayDeadLetters())
  app.addHook('onClose', async () => {
    const unwritten = await writer.close(settings.shutdownTimeoutMs)
    try {
      await deadLetter.append(unwritten)
      metrics.deadLettered(unwritten.length)
    } catch (error) {
      app.log.fatal({ err: error, count: unwritten.length, file: deadLetter.path }, 'accepted messages LOST: not stored by the shutdown deadline and the dead-letter file is not writable')
      throw new MessagesNotSaved(unwritten.length)
    } finally {
      stop.abort()
      await Promise.race([replaying, sleep(1_000, undefined, { ref: false })])
    }
    if (unwritten.length > 0) {
      app.log.warn({ count: unwritten.length, file: deadLetter.path }, 'shutdown deadline passed: unwritten messages saved to the dead-letter file')
    }
  })
}

export default fp(persistence, { name: 'chat-persistence', dependencies: ['chat-settings', 'chat-metrics', 'chat-mongo', 'chat-dead-letter'] })
