// Decorates `chatMessages`: accepting messages (clientId check, place in the channel, background
// write, broadcast) and reading them back in channel order, from MongoDB and the write queue
// (and, for catch-up, with the changes to messages).
// Broadcast never waits for MongoDB; the background writer stores every accepted message.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { clientIdLookup } from '../lib/messages/client-id-lookup.js'
import { MessageIntake } from '../lib/messages/message-intake.js'
import { MessageReader, SETTLE_MS } from '../lib/storage/message-reader.js'
import { InvalidHistoryQuery, Unavailable } from '../lib/protocol/errors.js'
import type { ChatMessage } from '../lib/messages/message.js'
import type { Scope } from '../lib/storage/message-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    chatMessages: ChatMessages
  }
}

/** How long a clientId lookup in MongoDB may take before its messages are taken as new. */
const CLIENT_ID_LOOKUP_TIMEOUT_MS = 1_000
/**
 * clientId lookups start at most this often. Under a steady stream a turn rarely has more than a
 * message or two, so lookups per turn meant a MongoDB query per message or two: load on the
 * database, and driver work here (about 8% of the service's CPU at half load in the bench).
 * Each query still costs the driver about 48 KiB of garbage and a round trip that, after a pause,
 * waits behind the backlog it gathered; at 2 ms apart (500 queries a second at half load) that
 * doubled the p99 of messages with clientIds and cost a fifth of the deliveries per CPU-second
 * against 10 ms (BENCHMARKS.md). After a quiet spell a lookup still goes at once.
 */
const CLIENT_ID_LOOKUP_INTERVAL_MS = 10

export interface ChatMessages {
  intake: MessageIntake
  reader: MessageReader
  /** Newest first, from the database; `before` pages backwards from a message of the channel. */
  history (scope: Scope, limit: number, before?: string): Promise<ChatMessage[]>
  /** Oldest first: the messages after one of the channel, including those accepted but not stored yet. */
  after (scope: Scope, after: string, limit: number): Promise<ChatMessage[]>
  /** The seq of a message of the channel, waiting up to `settleMs` for one accepted elsewhere to be stored; 400 when there is none. */
  seqOf (channel: string, id: string, settleMs: number): Promise<number>
  /** As seqOf, but undefined when there is none. */
  findSeq (channel: string, id: string, settleMs: number): Promise<number | undefined>
}

async function messages (app: FastifyInstance): Promise<void> {
  const { chatWriter: writer, chatStore: store } = app
  const intake = new MessageIntake({
    writer,
    fanout: app.chatFanout,
    findByClientId: clientIdLookup({
      find: (pairs) => store.findByClientIds(pairs),
      timeoutMs: CLIENT_ID_LOOKUP_TIMEOUT_MS,
      minIntervalMs: CLIENT_ID_LOOKUP_INTERVAL_MS,
      log: app.log
    }),
    trackStores: app.chatSettings.ackAfterStore,
    rateLimiter: app.chatLimits.messages
  })
  const reader = new MessageReader(store, (channel) => writer.queued(channel), app.chatChangeStore)
  // Runs before the writer closes (hooks close in reverse order): what is being accepted reaches its queue.
  app.addHook('onClose', () => intake.close(1_000))

  async function findSeq (channel: string, id: string, settleMs: number): Promise<number | undefined> {
    const deadline = Date.now() + settleMs
    for (;;) {
      const seq = await reader.seqOf(channel, id).catch(databaseUnavailable)
      if (seq !== undefined || Date.now() > deadline) return seq
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  async function seqOf (channel: string, id: string, settleMs: number): Promise<number> {
    const seq = await findSeq(channel, id, settleMs)
    if (seq === undefined) throw new InvalidHistoryQuery(`no message ${id} in channel ${channel}`)
    return seq
  }

  app.decorate('chatMessages', {
    intake,
    reader,
    seqOf,
    findSeq,
    async history (scope, limit, before) {
      // Paging backwards starts from messages this reader was given, stored already.
      const beforeSeq = before === undefined ? undefined : await seqOf(scope.channel, before, 0)
      return store.history({ scope, limit, beforeSeq }).catch(databaseUnavailable)
    },
    async after (scope, after, limit) {
      return reader.page(scope, await seqOf(scope.channel, after, SETTLE_MS), limit).catch(databaseUnavailable)
    }
  } satisfies ChatMessages)

  function databaseUnavailable (error: unknown): never {
    if ((error as { statusCode?: number }).statusCode !== undefined) throw error
    app.log.warn({ err: error }, 'reading messages from MongoDB failed')
    throw new Unavailable('messages cannot be read: the database is not reachable')
  }
}

export default fp(messages, { name: 'chat-messages', dependencies: ['chat-mongo', 'chat-hub', 'chat-persistence', 'chat-fanout', 'chat-limits', 'chat-message-changes'] })
