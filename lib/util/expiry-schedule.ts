/** How often due items are looked for; an item expires at most this late. */
const TICK_MS = 1_000

/**
 * Expires items (open WebSockets, in practice) at a time in whole seconds, on one shared timer:
 * items are kept in sets by expiry second, so an item costs one set entry and no closure or
 * timer of its own. The timer runs only while something is scheduled, and does not keep the
 * process alive.
 */
export class ExpirySchedule<T> {
  readonly #buckets = new Map<number, Set<T>>()
  readonly #expire: (item: T) => void
  #timer: NodeJS.Timeout | undefined

  constructor (expire: (item: T) => void) {
    this.#expire = expire
  }

  /** Expires the item once the clock reaches `atSecond` (seconds since the epoch). */
  add (item: T, atSecond: number): void {
    let bucket = this.#buckets.get(atSecond)
    if (bucket === undefined) {
      bucket = new Set()
      this.#buckets.set(atSecond, bucket)
    }
    bucket.add(item)
    this.#timer ??= setInterval(() => this.expireDue(), TICK_MS).unref()
  }

  /** Forgets the item (it went away first); `atSecond` as given to add. */
  remove (item: T, atSecond: number): void {
    const bucket = this.#buckets.get(atSecond)
    if (bucket === undefined || !bucket.delete(item)) return
    if (bucket.size === 0) this.#buckets.delete(atSecond)
    this.#stopWhenEmpty()
  }

  /** How many items are scheduled. */
  get size (): number {
    let size = 0
    for (const bucket of this.#buckets.values()) size += bucket.size
    return size
  }

  /** Expires every item that is due now. The timer calls this; tests may too. */
  expireDue (nowMs = Date.now()): void {
    const now = nowMs / 1000
    for (const [second, bucket] of this.#buckets) {
      if (second > now) continue
      this.#buckets.delete(second)
      for (const item of bucket) this.#expire(item)
    }
    this.#stopWhenEmpty()
  }

  /** Forgets everything and stops the timer. */
  clear (): void {
    this.#buckets.clear()
    this.#stopWhenEmpty()
  }

  #stopWhenEmpty (): void {
    if (this.#buckets.size > 0 || this.#timer === undefined) return
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}
