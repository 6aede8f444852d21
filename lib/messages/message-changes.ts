import { setTimeout as sleep } from 'node:timers/promises'
import { ObjectId } from 'mongodb'
import pRetry from 'p-retry'
import { isModerator, type Authorize, type Claims } from '../auth/access.js'
import { Forbidden, MessageNotFound, NotAllowedToChange, Unavailable } from '../protocol/errors.js'
import type { Fanout } from '../delivery/broker.js'
import type { ChangeStore } from '../storage/change-store.js'
import type { MessageStore } from '../storage/message-store.js'
import type { ChangeFrame } from './message-change.js'
import type { ChatMessage } from './message.js'

const POLL_MS = 50

export interface MessageChangesOptions {
  store: Pick<MessageStore, 'findById' | 'applyEdit' | 'applyDelete'>
  changes: Pick<ChangeStore, 'insert'>
  fanout: Pick<Fanout, 'publishChange'>
  authorize: Authorize
  moderatorRole: string
  /** How long a message known to exist (accepted, here or elsewhere) may take to be stored before it counts as unknown. */
  settleMs: number
  retries: number
  retryMinDelayMs: number
  retryMaxDelayMs: number
  edited (): void
  deleted (): void
}

/**
 * Edits and deletes. A change takes the channel's next seq, as a message does, so it reaches
 * every live client in order and a client that catches up gets it among the messages; the
 * message itself is updated in place, so history shows its current state. Changes are applied
 * in seq order or not at all, and a deleted message stays deleted.
 */
export class MessageChanges {
  readonly #options: MessageChangesOptions

  constructor (options: MessageChangesOptions) {
    this.#options = options
  }

  /** By the sender only, who may still write to the channel; a deleted message is not found. */
  async edit (claims: Claims, channel: string, id: string, content: string): Promise<ChatMessage> {
    const message = await this.#find(channel, id)
    if (message.deletedAt !== undefined) throw new MessageNotFound(id, channel)
    if (message.sender !== claims.id) throw new NotAllowedToChange('only its sender can edit a message')
    if (!await this.#options.authorize(claims, channel)) throw new Forbidden(channel)
    const editedAt = new Date()
    const edited: ChatMessage = { ...message, content, editedAt }
    await this.#publish(channel, { edited }, (seq) => this.#options.store.applyEdit(id, content, editedAt, seq))
    this.#options.edited()
    return edited
  }

  /**
   * By the sender, or by a moderator who may read the channel. The message stays as a tombstone;
   * deleting it again changes nothing.
   */
  async remove (claims: Claims, channel: string, id: string): Promise<void> {
    const { authorize, moderatorRole } = this.#options
    const message = await this.#find(channel, id)
    const allowed = message.sender === claims.id || (isModerator(claims, moderatorRole) && await authorize(claims, channel))
    if (!allowed) throw new NotAllowedToChange('only its sender or a moderator can delete a message')
    if (message.deletedAt !== undefined) return
    const deletedAt = new Date()
    await this.#publish(channel, { deleted: { channel, id, deletedAt } }, (seq) => this.#options.store.applyDelete(id, deletedAt, seq))
    this.#options.deleted()
  }

  /** The stored message, waiting up to settleMs for one still on its way to the database. */
  async #find (channel: string, id: string): Promise<ChatMessage> {
    const deadline = Date.now() + this.#options.settleMs
    for (;;) {
      const message = await this.#options.store.findById(id)
      if (message !== undefined) {
        if (message.channel !== channel) break
        return message
      }
      if (Date.now() > deadline) break
      await sleep(POLL_MS)
    }
    throw new MessageNotFound(id, channel)
  }

  /** Orders and delivers the change, then stores it and applies it to the message. */
  async #publish (channel: string, frame: ChangeFrame, apply: (seq: number) => Promise<void>): Promise<void> {
    const { fanout, changes, retries, retryMinDelayMs, retryMaxDelayMs } = this.#options
    const seq = await fanout.publishChange(channel, JSON.stringify(frame))
    const change = { _id: new ObjectId(), channel, seq, frame }
    try {
      await pRetry(
        () => Promise.all([changes.insert(change), apply(seq)]),
        { retries, minTimeout: retryMinDelayMs, maxTimeout: retryMaxDelayMs }
      )
    } catch {
      throw new Unavailable('the change reached the clients online but could not be stored: make it again')
    }
  }
}
