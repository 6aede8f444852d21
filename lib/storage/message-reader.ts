import { fromDocument, type ChatMessage, type MessageDocument } from '../messages/message.js'
import type { MissedChange } from '../messages/message-change.js'
import type { ChangeStore } from './change-store.js'
import type { MessageStore, Scope } from './message-store.js'

/** How long a message known by id may take to become readable (stored by the instance that accepted it). */
export const SETTLE_MS = 3_000

/**
 * Reads a channel's messages in seq order from both places they can be: MongoDB, and this
 * instance's write queue (accepted, not stored yet). The queue is read first: a message leaves
 * it only once stored, so none falls between the two reads.
 */
export class MessageReader {
  readonly #store: Pick<MessageStore, 'after' | 'findById'>
  readonly #queued: (channel: string) => MessageDocument[]
  readonly #changes: Pick<ChangeStore, 'after'> | undefined

  /** `changes`: where the changes to messages are, for `missed`; without it, it has messages only. */
  constructor (store: Pick<MessageStore, 'after' | 'findById'>, queued: (channel: string) => MessageDocument[], changes?: Pick<ChangeStore, 'after'>) {
    this.#store = store
    this.#queued = queued
    this.#changes = changes
  }

  /** Where a message of the channel stands, or undefined when neither place has it. */
  async seqOf (channel: string, id: string): Promise<number | undefined> {
    const queued = this.#queued(channel).find((document) => document._id.toHexString() === id)
    if (queued !== undefined) return queued.seq
    const stored = await this.#store.findById(id)
    return stored?.channel === channel ? stored.seq : undefined
  }

  /** The messages after `afterSeq` (up to `untilSeq`), oldest first, at most `limit`. */
  async page (scope: Scope, afterSeq: number, limit: number, untilSeq = Number.MAX_SAFE_INTEGER): Promise<ChatMessage[]> {
    const queued = this.#queued(scope.channel)
      .filter((document) => document.seq > afterSeq && document.seq <= untilSeq &&
        (scope.sender === undefined || document.sender === scope.sender))
      .map(fromDocument)
    const stored = await this.#store.after(scope, afterSeq, limit, untilSeq)
    // A full page may stop short of queued messages: beyond its last seq, MongoDB may hold more.
    const reach = stored.length === limit ? stored[stored.length - 1]!.seq : untilSeq
    const seen = new Set(stored.map((message) => message.id))
    return [...stored, ...queued.filter((message) => !seen.has(message.id) && message.seq <= reach)]
      .sort((a, b) => a.seq - b.seq)
      .slice(0, limit)
  }

  /**
   * What a client that saw the channel up to `afterSeq` missed (up to `untilSeq`): the messages
   * and the changes to messages (edits, deletes, older messages' included), in seq order, at most
   * `limit`. Every seq of the channel is one or the other.
   */
  async missed (
    channel: string,
    afterSeq: number,
    limit: number,
    untilSeq = Number.MAX_SAFE_INTEGER
  ): Promise<Array<ChatMessage | MissedChange>> {
    const [messages, changes] = await Promise.all([
      this.page({ channel }, afterSeq, limit, untilSeq),
      this.#changes?.after(channel, afterSeq, limit, untilSeq) ?? []
    ])
    if (changes.length === 0) return messages
    // A full page of either may stop short of the other's entries beyond its last seq.
    const reach = Math.min(reachOf(messages, limit, untilSeq), reachOf(changes, limit, untilSeq))
    return [...messages, ...changes].filter((entry) => entry.seq <= reach).sort((a, b) => a.seq - b.seq).slice(0, limit)
  }
}

/** How far a page read up to `untilSeq` is complete: to its last seq when it is full. */
function reachOf (page: ReadonlyArray<{ seq: number }>, limit: number, untilSeq: number): number {
  return page.length === limit ? page[page.length - 1]!.seq : untilSeq
}
