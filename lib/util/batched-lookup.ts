export interface BatchedLookupOptions {
  /** Keys per call at most. */
  maxBatch?: number
  /**
   * Calls start at least this far apart: a lookup asked for sooner after the last call waits for
   * the rest of the interval, with every other lookup asked for meanwhile. One asked for after a
   * quiet spell goes at the end of the turn, as without it.
   */
  minIntervalMs?: number
}

/**
 * Gathers lookups into one call: those of one turn of the event loop, and under load those of
 * `minIntervalMs`, so that a stream of messages with clientIds costs a database query per
 * interval, not one per message or two.
 */
export class BatchedLookup<Key, Value> {
  readonly #lookUp: (keys: Key[]) => Promise<ReadonlyMap<string, Value>>
  readonly #name: (key: Key) => string
  readonly #maxBatch: number
  readonly #minIntervalMs: number
  #lastCallAt = Number.NEGATIVE_INFINITY
  #pending: Array<{ key: Key, resolve (value: Value | undefined): void, reject (error: unknown): void }> = []

  /** `lookUp` answers a batch as a map by `name(key)`; keys it leaves out have no value. */
  constructor (
    lookUp: (keys: Key[]) => Promise<ReadonlyMap<string, Value>>,
    name: (key: Key) => string,
    options: BatchedLookupOptions = {}
  ) {
    this.#lookUp = lookUp
    this.#name = name
    this.#maxBatch = options.maxBatch ?? 500
    this.#minIntervalMs = options.minIntervalMs ?? 0
  }

  find (key: Key): Promise<Value | undefined> {
    return new Promise((resolve, reject) => {
      if (this.#pending.push({ key, resolve, reject }) === 1) this.#schedule()
    })
  }

  #schedule (): void {
    const waitMs = this.#lastCallAt + this.#minIntervalMs - performance.now()
    if (waitMs > 0) setTimeout(() => this.#flush(), waitMs)
    else setImmediate(() => this.#flush())
  }

  #flush (): void {
    this.#lastCallAt = performance.now()
    const pending = this.#pending
    this.#pending = []
    for (let start = 0; start < pending.length; start += this.#maxBatch) {
      const batch = pending.slice(start, start + this.#maxBatch)
      this.#lookUp(batch.map((entry) => entry.key)).then(
        (found) => { for (const entry of batch) entry.resolve(found.get(this.#name(entry.key))) },
        (error: unknown) => { for (const entry of batch) entry.reject(error) }
      )
    }
  }
}
