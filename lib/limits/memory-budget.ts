interface Waiter {
  bytes: number
  grant (granted: boolean): void
}

/**
 * A number of bytes shared by many holders (catch-ups): each reserves what it is about to hold
 * and releases it once the memory is free again. Reservations are granted first come, first
 * served, so a large one is not starved by a stream of small ones.
 */
export class MemoryBudget {
  readonly #total: number
  #free: number
  readonly #waiting: Waiter[] = []

  constructor (total: number) {
    this.#total = total
    this.#free = total
  }

  /** Bytes not reserved. */
  get free (): number {
    return this.#free
  }

  /**
   * Resolves true once `bytes` (at most the whole budget) are reserved for the caller, or false
   * if they could not be within `waitMs`. The caller releases what it reserved.
   */
  reserve (bytes: number, waitMs: number): Promise<boolean> {
    const wanted = Math.min(bytes, this.#total)
    if (this.#waiting.length === 0 && wanted <= this.#free) {
      this.#free -= wanted
      return Promise.resolve(true)
    }
    return new Promise((resolve) => {
      const waiter: Waiter = {
        bytes: wanted,
        grant: (granted) => {
          clearTimeout(timer)
          resolve(granted)
        }
      }
      const timer = setTimeout(() => {
        this.#waiting.splice(this.#waiting.indexOf(waiter), 1)
        waiter.grant(false)
        this.#grantWaiting()
      }, waitMs)
      this.#waiting.push(waiter)
    })
  }

  release (bytes: number): void {
    if (bytes <= 0) return
    this.#free = Math.min(this.#total, this.#free + Math.min(bytes, this.#total))
    this.#grantWaiting()
  }

  #grantWaiting (): void {
    while (this.#waiting.length > 0 && this.#waiting[0]!.bytes <= this.#free) {
      const waiter = this.#waiting.shift()!
      this.#free -= waiter.bytes
      waiter.grant(true)
    }
  }
}
