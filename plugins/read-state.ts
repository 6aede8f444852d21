// Decorates `chatReadState`: read markers in MongoDB (one per user and channel, only moving
// forward), "seen by" and unread counts. A marker moved by the user (REST or a read frame) is
// relayed as a receipt to the channel's sockets on every instance, over `chatSignals`; a
// sender's marker follows their own messages once stored, in the background, without a
// receipt (the message says as much). Feeds chat_read_markers_total.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { ReadReceipts } from '../lib/delivery/read-receipts.js'
import { ReadState } from '../lib/messages/read-state.js'
import { SenderMarkers } from '../lib/messages/sender-markers.js'
import { Unavailable } from '../lib/protocol/errors.js'
import { ReadMarkers, type ReadMarkerDocument } from '../lib/storage/read-markers.js'
import { SETTLE_MS } from '../lib/storage/message-reader.js'

declare module 'fastify' {
  interface FastifyInstance {
    chatReadState: ReadState
  }
}

async function readState (app: FastifyInstance): Promise<void> {
  const { chatDatabase: database, chatMetrics: metrics, chatSettings: settings } = app
  const markers = new ReadMarkers(database.collection<ReadMarkerDocument>('read_markers'), database.connected)
  database.indexesInBackground('read marker', () => markers.ensureIndexes())

  const receipts = new ReadReceipts(app.chatHub, app.chatSignals)
  app.addHook('onClose', async () => receipts.close())

  app.decorate('chatReadState', new ReadState({
    markers: {
      advance: (move) => markers.advance(move).catch(databaseUnavailable),
      ofChannel: (channel) => markers.ofChannel(channel).catch(databaseUnavailable),
      ofUser: (user, channels) => markers.ofUser(user, channels).catch(databaseUnavailable)
    },
    seqOf: (channel, id) => app.chatMessages.findSeq(channel, id, SETTLE_MS),
    countAfter: (channel, afterSeq, user, cap) => app.chatStore.countAfter(channel, afterSeq, user, cap).catch(databaseUnavailable),
    authorize: app.chatAuthorize,
    moved: (move) => {
      metrics.markerMoved()
      receipts.publish(move)
    }
  }))

  const senderMarkers = new SenderMarkers({
    advanceAll: (moves) => markers.advanceAll(moves),
    moved: (count) => metrics.markerMoved(count),
    retries: settings.retryAttempts,
    minTimeoutMs: settings.writeRetryMinDelayMs,
    maxTimeoutMs: settings.writeRetryMaxDelayMs,
    log: app.log
  })
  app.chatWriter.watch({ stored: (batch, superseded) => senderMarkers.stored(batch, superseded) })
  app.addHook('onClose', () => senderMarkers.close())

  function databaseUnavailable (error: unknown): never {
    if ((error as { statusCode?: number }).statusCode !== undefined) throw error
    app.log.warn({ err: error }, 'reading or writing read markers in MongoDB failed')
    throw new Unavailable('read state cannot be read or written: the database is not reachable')
  }
}

export default fp(readState, { name: 'chat-read-state', dependencies: ['chat-settings', 'chat-metrics', 'chat-mongo', 'chat-auth', 'chat-hub', 'chat-signals', 'chat-persistence', 'chat-messages'] })
