/**
 * Gathers the lookups asked for in one turn of the event loop into one call, so that a burst of
 * messages with clientIds costs one database query, not one per message.
 */
export class BatchedLookup<Key, Value> {
  readonly #lookUp: (keys: Key[]) => Promise<Map<string, Value>>
  readonly #name: (key: Key) => string
  readonly #maxBatch: number
  #pending: Array<{ key: Key, resolve (value: Value | undefined): void, reject (error: unknown): void }> = []

  /** `lookUp` answers a batch as a map by `name(key)`; keys it leaves out have no value. */
  constructor (lookUp: (keys: Key[]) => Promise<Map<string, Value>>, name: (key: Key) => string, maxBatch = 500) {
    this.#lookUp = lookUp
    this.#name = name
    this.#maxBatch = maxBatch
  }

  find (key: Key): Promise<Value | undefined> {
    return new Promise((resolve, reject) => {
      if (this.#pending.push({ key, resolve, reject }) === 1) setImmediate(() => this.#flush())
    })
  }

  #flush (): void {
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
