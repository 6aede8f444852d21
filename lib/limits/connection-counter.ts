/** Open connections per key (a user id) on this instance, against a cap; 0 means no cap. */
export class ConnectionCounter {
  readonly #max: number
  readonly #open = new Map<string, number>()

  constructor (max: number) {
    this.#max = max
  }

  get max (): number {
    return this.#max
  }

  /** Whether the key may open one more connection. */
  hasRoom (key: string): boolean {
    return this.#max <= 0 || (this.#open.get(key) ?? 0) < this.#max
  }

  opened (key: string): void {
    this.#open.set(key, (this.#open.get(key) ?? 0) + 1)
  }

  closed (key: string): void {
    const open = (this.#open.get(key) ?? 0) - 1
    if (open > 0) this.#open.set(key, open)
    else this.#open.delete(key)
  }
}
