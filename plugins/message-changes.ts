// Decorates `chatChanges`, edits and deletes of messages, and `chatChangeStore`, the changes
// collection next to the messages, which catch-up reads with them. A change is ordered and
// delivered like a message (through `chatFanout`), then stored and applied to the message.
// Feeds chat_messages_edited_total and chat_messages_deleted_total.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { MessageChanges } from '../lib/messages/message-changes.js'
import type { ChangeDocument } from '../lib/messages/message-change.js'
import { Unavailable } from '../lib/protocol/errors.js'
import { ChangeStore } from '../lib/storage/change-store.js'
import { SETTLE_MS } from '../lib/storage/message-reader.js'

declare module 'fastify' {
  interface FastifyInstance {
    chatChanges: MessageChanges
    chatChangeStore: ChangeStore
  }
}

async function messageChanges (app: FastifyInstance): Promise<void> {
  const { chatDatabase: database, chatMetrics: metrics, chatSettings: settings, chatStore: store } = app
  const changeStore = new ChangeStore(database.collection<ChangeDocument>('changes'), database.connected)
  database.indexesInBackground('message change', () => changeStore.ensureIndexes())
  app.decorate('chatChangeStore', changeStore)
  app.decorate('chatChanges', new MessageChanges({
    store: {
      findById: (id) => store.findById(id).catch(databaseUnavailable),
      applyEdit: (...change) => store.applyEdit(...change),
      applyDelete: (...change) => store.applyDelete(...change)
    },
    changes: changeStore,
    fanout: app.chatFanout,
    authorize: app.chatAuthorize,
    moderatorRole: settings.jwtModeratorRole,
    settleMs: SETTLE_MS,
    retries: settings.retryAttempts,
    retryMinDelayMs: settings.writeRetryMinDelayMs,
    retryMaxDelayMs: settings.writeRetryMaxDelayMs,
    edited: () => metrics.edited(),
    deleted: () => metrics.deleted()
  }))

  function databaseUnavailable (error: unknown): never {
    app.log.warn({ err: error }, 'reading a message to change from MongoDB failed')
    throw new Unavailable('messages cannot be changed: the database is not reachable')
  }
}

export default fp(messageChanges, { name: 'chat-message-changes', dependencies: ['chat-settings', 'chat-metrics', 'chat-mongo', 'chat-auth', 'chat-fanout'] })
