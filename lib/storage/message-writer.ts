import { setTimeout as sleep } from 'node:timers/promises'
import pRetry from 'p-retry'
import type { MessageDocument } from '../messages/message.js'
import type { Superseded } from './message-store.js'

const IN_FLIGHT_GRACE_MS = 1_000

export interface WriterLogger {
  warn (object: object, message: string): void
  error (object: object, message: string): void
}

export interface MessageWriterOptions {
  /** Stores a batch idempotently (a repeated document must not be stored twice). */
  insert: (batch: MessageDocument[]) => Promise<Superseded | void>
  /** Retries of one batch after its first failed attempt, with exponential backoff. */
  retryAttempts: number
  batchSize: number
  /** How far apart batches start at least: under a stream, a batch that is not full waits for the rest of it. */
  batchWindowMs: number
  /** Unwritten messages held at most; beyond it `enqueue` refuses. */
  maxQueue: number
  retryMinDelayMs: number
  retryMaxDelayMs: number
  log: WriterLogger
  /**
   * Takes a batch whose retries ran out, durably, so the writer can drop it from memory.
   * Without it, or when it fails, the batch stays at the head of the queue and is tried again.
   */
  onRetriesExhausted?: (batch: MessageDocument[]) => Promise<void>
}

/** Told what became of queued messages. */
export interface WriterListener {
  /** The batch is in MongoDB; `superseded` maps the id of each document that was not stored to the stored one that stands for it. */
  stored? (batch: MessageDocument[], superseded: Superseded): void
  /** The batch's retries ran out and it was handed to `onRetriesExhausted` (the dead-letter file). */
  handedOff? (batch: MessageDocument[]): void
}

const noneSuperseded: Superseded = new Map()

/**
 * Writes accepted messages to MongoDB in the background, in batches, one batch at a time.
 * A message stays counted in `depth` until it is stored, so the queue cap bounds memory honestly.
 */
export class MessageWriter {
  readonly #options: MessageWriterOptions
  readonly #queue: MessageDocument[] = []
  readonly #stop = new AbortController()
  #running: Promise<void> | undefined
  #timer: NodeJS.Timeout | undefined
  #accepting = true
  #batchTakenAt = Number.NEGATIVE_INFINITY
  readonly #listeners: WriterListener[] = []

  constructor (options: MessageWriterOptions) {
    this.#options = options
  }

  get depth (): number {
    return this.#queue.length
  }

  get accepting (): boolean {
    return this.#accepting
  }

  get full (): boolean {
    return this.#queue.length >= this.#options.maxQueue
  }

  /** Whether `enqueue` would take a message now. */
  get hasRoom (): boolean {
    return this.#accepting && !this.full
  }

  watch (listener: WriterListener): void {
    this.#listeners.push(listener)
  }

  /** The queued (not yet stored) messages of a channel, oldest first. */
  queued (channel: string): MessageDocument[] {
    return this.#queue.filter((document) => document.channel === channel)
  }

  /**
   * Queues a message for writing; false when the writer is closing or the queue is full.
   * `force` queues a message that was admitted (see hasRoom) before an asynchronous step, so the
   * queue may go over its cap by the number of such steps in flight.
   */
  enqueue (document: MessageDocument, force = false): boolean {
    if (!force && !this.hasRoom) return false
    this.#queue.push(document)
    this.#schedule()
    return true
  }

  /** Resolves once every queued message has been handled. */
  async drained (): Promise<void> {
    while (!this.#stop.signal.aborted && (this.#queue.length > 0 || this.#running !== undefined || this.#timer !== undefined)) {
      this.#startNow()
      await this.#running
    }
  }

  /**
   * Refuses new messages, writes what is queued until the deadline, then gives up and
   * returns what is still unwritten (the caller keeps it durable).
   */
  async close (deadlineMs: number): Promise<MessageDocument[]> {
    this.#accepting = false
    const deadline = sleep(deadlineMs, 'deadline' as const, { ref: false })
    const outcome = await Promise.race([this.drained().then(() => 'drained' as const), deadline])
    if (outcome === 'deadline') {
      // Aborting stops retries, not a write already on the wire: give that one a moment,
      // then hand over the queue, in-flight batch included, whatever the database does.
      this.#stop.abort()
      await Promise.race([this.#running, sleep(IN_FLIGHT_GRACE_MS, undefined, { ref: false })])
    }
    return this.#queue.splice(0)
  }

  /**
   * Batches start at least one window apart. A batch that is not full waits for the rest of the
   * window since the last one was taken: after a quiet spell, none (a timer of 0 still gathers
   * the turn's messages), so a lone message is written at once; under a stream, the window.
   */
  #schedule (): void {
    if (this.#running !== undefined) return
    if (this.#queue.length >= this.#options.batchSize) {
      this.#startNow()
    } else if (this.#timer === undefined) {
      const sinceLastBatch = performance.now() - this.#batchTakenAt
      this.#timer = setTimeout(() => this.#startNow(), Math.max(0, this.#options.batchWindowMs - sinceLastBatch))
    }
  }

  #startNow (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#running !== undefined || this.#queue.length === 0) return
    this.#running = this.#writeAll().finally(() => {
      this.#running = undefined
      if (this.#queue.length > 0 && !this.#stop.signal.aborted) this.#schedule()
    })
  }

  /**
   * Writes full batches back to back. What is left after a stored batch, fewer than a batch,
   * waits for the rest of the window, counted from when that batch was taken: under a steady
   * load a database that answers fast would otherwise get a write for every message or two
   * that arrived during the last one, and an insertMany costs about as much CPU for one message
   * as for hundreds. No message waits for others longer than the window.
   */
  async #writeAll (): Promise<void> {
    while (this.#queue.length > 0 && !this.#stop.signal.aborted) {
      this.#batchTakenAt = performance.now()
      const batch = this.#queue.slice(0, this.#options.batchSize)
      if (!await this.#writeBatch(batch)) continue
      this.#queue.splice(0, batch.length)
      if (this.#queue.length < this.#options.batchSize && this.#accepting) return
    }
  }

  /** True when the batch is stored or durably handed off; false when it must stay queued. */
  async #writeBatch (batch: MessageDocument[]): Promise<boolean> {
    const { insert, retryAttempts, retryMinDelayMs, retryMaxDelayMs, log, onRetriesExhausted } = this.#options
    try {
      const superseded = await pRetry(() => insert(batch), {
        retries: retryAttempts,
        minTimeout: retryMinDelayMs,
        maxTimeout: retryMaxDelayMs,
        signal: this.#stop.signal,
        onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
          log.warn({ err: error, attemptNumber, retriesLeft, batchSize: batch.length }, 'message batch write failed')
        }
      })
      for (const listener of this.#listeners) listener.stored?.(batch, superseded ?? noneSuperseded)
      return true
    } catch (error) {
      if (this.#stop.signal.aborted) return false
      log.error({ err: error, batchSize: batch.length }, 'message batch write retries exhausted')
    }
    if (onRetriesExhausted !== undefined) {
      try {
        await onRetriesExhausted(batch)
        for (const listener of this.#listeners) listener.handedOff?.(batch)
        return true
      } catch (error) {
        log.error({ err: error, batchSize: batch.length }, 'could not hand off an unwritten batch')
      }
    }
    await sleep(retryMaxDelayMs, undefined, { signal: this.#stop.signal }).catch(() => {})
    return false
  }
}
