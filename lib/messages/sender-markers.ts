import pRetry from 'p-retry'
import type { MessageDocument } from './message.js'
import type { Superseded } from '../storage/message-store.js'
import type { MarkerMove } from '../storage/read-markers.js'
import type { WarnLogger } from '../operations/throttled-warnings.js'

/** Pairs of user and channel waiting at most; beyond, a new pair's move is dropped (a marker is a convenience, not a message). */
const MAX_PENDING = 100_000
/** Rounds of writes start at least this far apart: a busy sender's marker lags by up to this much. */
const ROUND_INTERVAL_MS = 1_000

export interface SenderMarkersOptions {
  /** Moves these markers forward in one write; resolves with how many moved. */
  advanceAll (moves: readonly MarkerMove[]): Promise<number>
  moved (count: number): void
  retries: number
  minTimeoutMs: number
  maxTimeoutMs: number
  log: WarnLogger
}

/**
 * A sent message is read by its sender: moves each sender's marker to their newest stored
 * message, in the background. Moves wait for the next round, at most one a second, and only the
 * furthest per user and channel goes, all in one bulk write: a stream of messages costs one
 * write command a second, not one per message or per sender.
 */
export class SenderMarkers {
  readonly #options: SenderMarkersOptions
  readonly #stop = new AbortController()
  #pending = new Map<string, MarkerMove>()
  #running: Promise<void> | undefined
  #timer: NodeJS.Timeout | undefined
  #lastRoundAt = -Infinity

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
    clearTimeout(this.#timer)
    await this.#running
  }

  #add (move: MarkerMove): void {
    const key = `${move.channel}\u0000${move.user}`
    const earlier = this.#pending.get(key)
    if (earlier === undefined && this.#pending.size >= MAX_PENDING) return
    if (earlier === undefined || earlier.seq < move.seq) this.#pending.set(key, move)
  }

  #run (): void {
    if (this.#running !== undefined || this.#timer !== undefined || this.#pending.size === 0 || this.#stop.signal.aborted) return
    const wait = this.#lastRoundAt + ROUND_INTERVAL_MS - Date.now()
    if (wait > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined
        this.#run()
      }, wait)
      this.#timer.unref()
      return
    }
    this.#lastRoundAt = Date.now()
    const round = [...this.#pending.values()]
    this.#pending = new Map()
    this.#running = this.#write(round).then(() => {
      this.#running = undefined
      this.#run()
    })
  }

  async #write (round: MarkerMove[]): Promise<void> {
    const { advanceAll, moved, retries, minTimeoutMs, maxTimeoutMs, log } = this.#options
    try {
      const count = await pRetry(
        () => advanceAll(round),
        { retries, minTimeout: minTimeoutMs, maxTimeout: maxTimeoutMs, signal: this.#stop.signal }
      )
      moved(count)
    } catch (error) {
      if (!this.#stop.signal.aborted) log.warn({ err: error, markers: round.length }, 'moving senders\' read markers failed; their next messages move them')
    }
  }
}
