/**
 * Passes on the first value of a key at once, then at most one per interval: the latest of those
 * that came meanwhile, when the interval ends.
 */
export class LatestPerInterval<V> {
  readonly #intervalMs: number
  readonly #pass: (key: string, value: V) => void
  readonly #open = new Map<string, { timer: NodeJS.Timeout, waiting: boolean, latest: V | undefined }>()

  constructor (intervalMs: number, pass: (key: string, value: V) => void) {
    this.#intervalMs = intervalMs
    this.#pass = pass
  }

  offer (key: string, value: V): void {
    const interval = this.#open.get(key)
    if (interval === undefined) {
      this.#pass(key, value)
      this.#start(key)
    } else {
      interval.waiting = true
      interval.latest = value
    }
  }

  /** Drops what waits. */
  close (): void {
    for (const { timer } of this.#open.values()) clearTimeout(timer)
    this.#open.clear()
  }

  #start (key: string): void {
    const timer = setTimeout(() => this.#end(key), this.#intervalMs).unref()
    this.#open.set(key, { timer, waiting: false, latest: undefined })
  }

  #end (key: string): void {
    const interval = this.#open.get(key)
    this.#open.delete(key)
    if (interval?.waiting !== true) return
    this.#pass(key, interval.latest as V)
    this.#start(key)
  }
}
