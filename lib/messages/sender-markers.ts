import pRetry from 'p-retry'
import type { MessageDocument } from './message.js'
import type { Superseded } from '../storage/message-store.js'
import type { MarkerMove } from '../storage/read-markers.js'
import type { WarnLogger } from '../operations/throttled-warnings.js'

/** Pairs of user and channel waiting at most; beyond, a new pair's move is dropped (a marker is a convenience, not a message). */
const MAX_PENDING = 100_000

export interface SenderMarkersOptions {
  advance (move: MarkerMove): Promise<boolean>
  moved (move: MarkerMove): void
  retries: number
  minTimeoutMs: number
  maxTimeoutMs: number
  log: WarnLogger
}

/**
 * A sent message is read by its sender: moves each sender's marker to their newest stored
 * message, in the background. Moves wait while a round of writes runs, only the furthest per
 * user and channel, so a stream of messages costs a write per sender and channel per round,
 * not one per message.
 */
export class SenderMarkers {
  readonly #options: SenderMarkersOptions
  readonly #stop = new AbortController()
  #pending = new Map<string, MarkerMove>()
  #running: Promise<void> | undefined

  constructor (options: SenderMarkersOptions) {
    this.#options = options
  }

  /** Takes a batch the writer stored: its documents that were not resends move their senders' markers. */
  stored (batch: readonly MessageDocument[], superseded: Superseded): void {
    for (const document of batch) {
      const id = document._id.toHexString()
      if (superseded.has(id)) continue
      this.#add({ channel: document.channel, user: document.sender, seq: document.seq, id })
    }
    this.#run()
  }

  /** Stops retrying and waits for the round being written. */
  async close (): Promise<void> {
    this.#stop.abort()
    await this.#running
  }

  #add (move: MarkerMove): void {
    const key = `${move.channel}\u0000${move.user}`
    const earlier = this.#pending.get(key)
    if (earlier === undefined && this.#pending.size >= MAX_PENDING) return
    if (earlier === undefined || earlier.seq < move.seq) this.#pending.set(key, move)
  }

  #run (): void {
    if (this.#running !== undefined || this.#pending.size === 0 || this.#stop.signal.aborted) return
    const round = [...this.#pending.values()]
    this.#pending = new Map()
    this.#running = Promise.all(round.map((move) => this.#write(move))).then(() => {
      this.#running = undefined
      this.#run()
    })
  }

  async #write (move: MarkerMove): Promise<void> {
    const { advance, moved, retries, minTimeoutMs, maxTimeoutMs, log } = this.#options
    try {
      const advanced = await pRetry(
        () => advance(move),
        { retries, minTimeout: minTimeoutMs, maxTimeout: maxTimeoutMs, signal: this.#stop.signal }
      )
      if (advanced) moved(move)
    } catch (error) {
      if (!this.#stop.signal.aborted) log.warn({ err: error, channel: move.channel, user: move.user }, 'moving a sender\'s read marker failed; the next message moves it')
    }
  }
}
