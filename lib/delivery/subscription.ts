import type { Connection } from './connection.js'
import { skipFrames } from './frame-bytes.js'
import type { Subscriber } from './hub.js'

/** Live messages held back during a catch-up, at most; a catch-up that slow drops the client. */
const MAX_HELD_MESSAGES = 10_000

/**
 * The hub's subscriber for one (connection, channel) pair. Its frames go out through the
 * connection's one write per turn. While the client catches up on the channel's missed messages,
 * the channel's live messages are held back, then sent after the missed ones, skipping any that
 * the catch-up already covered (by seq); the connection's other channels flow meanwhile.
 */
export class Subscription implements Subscriber {
  readonly channel: string
  readonly connection: Connection
  /** Live messages held back during a catch-up: first seq, frames, number of frames. */
  #held: Array<[number, Buffer, number]> | undefined
  #heldMessages = 0
  #ended = false

  constructor (connection: Connection, channel: string, options: { holdLive: boolean }) {
    this.connection = connection
    this.channel = channel
    this.#held = options.holdLive ? [] : undefined
  }

  get user (): string {
    return this.connection.user
  }

  /** Unsubscribed, or the connection closed: nothing more goes out for this channel. */
  end (): void {
    this.#ended = true
    this.#held = undefined
  }

  deliver (seq: number, frames: Buffer, count: number): void {
    if (this.#ended) return
    if (this.#held !== undefined) {
      this.#held.push([seq, frames, count])
      this.#heldMessages += count
      if (this.#heldMessages > MAX_HELD_MESSAGES) this.connection.drop()
      return
    }
    this.connection.queue(frames)
  }

  /** A text frame of its own about the channel (presence): after what was queued before it. */
  send (text: string): void {
    if (!this.#ended) this.connection.send(text)
  }

  /** A frame that is not a message (typing, presence, a receipt): never held back, no seq. */
  relay (frame: Buffer): void {
    if (!this.#ended) this.connection.queue(frame)
  }

  /** Ends the catch-up: sends the live messages held meanwhile that come after `coveredSeq`, then lets messages through. */
  goLive (coveredSeq: number): void {
    if (this.#ended) return
    const held = this.#held ?? []
    this.#held = undefined
    for (const [seq, frames, count] of held) {
      const covered = Math.min(Math.max(coveredSeq - seq + 1, 0), count)
      if (covered < count) this.deliver(seq + covered, skipFrames(frames, covered), count - covered)
    }
  }

  sendMissed (missed: readonly object[]): number | undefined {
    return this.#ended ? undefined : this.connection.sendMissed(missed)
  }

  taken (): Promise<boolean> {
    return this.connection.taken()
  }

  close (code: number, reason: string, graceMs?: number): Promise<void> {
    return this.connection.close(code, reason, graceMs)
  }
}
