// Decorates `chatMessages`: sending (id, background write, broadcast) and reading messages back.
// Broadcast never waits for MongoDB; the background writer stores every accepted message.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createMessage, fromDocument, toDocument, type ChatMessage } from '../lib/message.js'
import { Unavailable } from '../lib/errors.js'
import { textFrame } from '../lib/ws-frame.js'
import type { HistoryQuery, Scope } from '../lib/message-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    chatMessages: ChatMessages
  }
}

export interface ChatMessages {
  /** Accepts a message: queues it for storage and broadcasts it, or throws a 503 when it cannot be stored. */
  send (channel: string, sender: string, content: string): ChatMessage
  /** Newest first, from the database. */
  history (query: HistoryQuery): Promise<ChatMessage[]>
  /**
   * Messages after `after`, oldest first, including those accepted but not stored yet.
   * Call it synchronously right after joining the hub: together with live delivery it leaves no gap.
   */
  after (scope: Scope, after: string, limit: number): Promise<ChatMessage[]>
}

async function messages (app: FastifyInstance): Promise<void> {
  const writer = app.chatWriter

  app.decorate('chatMessages', {
    send (channel, sender, content) {
      const message = createMessage(channel, sender, content)
      if (!writer.enqueue(toDocument(message))) {
        app.chatMetrics.refused(writer.accepting ? 'queue_full' : 'shutting_down')
        throw new Unavailable(writer.accepting ? 'too many messages waiting to be stored' : 'shutting down')
      }
      const payload = Buffer.from(JSON.stringify(message))
      app.chatHub.broadcast(channel, message.id, textFrame(payload))
      app.chatFanout.publish(channel, message.id, payload)
      return message
    },
    history: (query) => app.chatStore.history(query).catch(databaseUnavailable),
    async after (scope, after, limit) {
      // The queue first: a message leaves it only once stored, so nothing falls between the two reads.
      const queued = writer.queued(scope.channel)
        .filter((document) => scope.sender === undefined || document.sender === scope.sender)
        .map(fromDocument)
      const stored = await app.chatStore.after(scope, after, limit).catch(databaseUnavailable)
      const seen = new Set(stored.map((message) => message.id))
      return [...stored, ...queued.filter((message) => message.id > after && !seen.has(message.id))]
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .slice(0, limit)
    }
  } satisfies ChatMessages)

  function databaseUnavailable (error: unknown): never {
    app.log.warn({ err: error }, 'reading messages from MongoDB failed')
    throw new Unavailable('messages cannot be read: the database is not reachable')
  }
}

export default fp(messages, { name: 'chat-messages', dependencies: ['chat-mongo', 'chat-hub', 'chat-persistence', 'chat-fanout'] })
