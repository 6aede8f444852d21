/** The last `capacity` messages delivered, by id: repeats are recognized, memory stays bounded. */
export class RecentMessages<T extends { id: string }> {
  readonly #capacity: number
  readonly #byId = new Map<string, T>()

  constructor (capacity: number) {
    this.#capacity = Math.max(1, capacity)
  }

  has (id: string): boolean {
    return this.#byId.has(id)
  }

  get (id: string): T | undefined {
    return this.#byId.get(id)
  }

  add (message: T): void {
    this.#byId.set(message.id, message)
    if (this.#byId.size > this.#capacity) this.#byId.delete(this.#byId.keys().next().value!)
  }
}
