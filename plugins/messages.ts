// Decorates `chatMessages`: sending (id, broadcast, background write) and reading history.
// Broadcast never waits for MongoDB; the background writer stores every accepted message.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createMessage, toDocument, type ChatMessage } from '../lib/message.js'
import { MessageWriter } from '../lib/message-writer.js'
import { Unavailable } from '../lib/errors.js'
import type { HistoryQuery } from '../lib/message-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    chatMessages: ChatMessages
  }
}

export interface ChatMessages {
  /** Accepts a message: queues it for storage and broadcasts it, or throws a 503 when it cannot be stored. */
  send (channel: string, sender: string, content: string): ChatMessage
  history (query: HistoryQuery): Promise<ChatMessage[]>
  readonly writer: MessageWriter
}

async function messages (app: FastifyInstance): Promise<void> {
  const settings = app.chatSettings
  const writer = new MessageWriter({
    insert: (batch) => app.chatStore.insertBatch(batch),
    retryAttempts: settings.retryAttempts,
    batchSize: settings.writeBatchSize,
    batchWindowMs: settings.writeBatchWindowMs,
    maxQueue: settings.writeQueueMax,
    retryMinDelayMs: settings.writeRetryMinDelayMs,
    retryMaxDelayMs: settings.writeRetryMaxDelayMs,
    log: app.log
  })

  app.decorate('chatMessages', {
    writer,
    send (channel, sender, content) {
      const message = createMessage(channel, sender, content)
      if (!writer.enqueue(toDocument(message))) {
        throw new Unavailable(writer.accepting ? 'too many messages waiting to be stored' : 'shutting down')
      }
      app.chatHub.broadcast(channel, Buffer.from(JSON.stringify(message)))
      return message
    },
    history: (query) => app.chatStore.history(query)
  } satisfies ChatMessages)

  app.addHook('onClose', async () => {
    const unwritten = await writer.close(settings.shutdownTimeoutMs)
    if (unwritten.length > 0) {
      app.log.error({ count: unwritten.length }, 'messages could not be stored before shutdown')
    }
  })
}

export default fp(messages, { name: 'chat-messages', dependencies: ['chat-settings', 'chat-mongo', 'chat-hub'] })
