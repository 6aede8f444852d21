const GENERATION_SIZE = 256
const MAX_GENERATIONS = 16

/**
 * A Map for entries that each live a short while (a message from its admission until it is
 * stored) but come and go thousands of times a second.
 *
 * With one long-lived Map for them, each scavenge kept megabytes of messages that nothing live
 * held: at 4,000 messages a second with clientIds, 2.6 MiB survived each scavenge instead of
 * 0.13, and scavenges paused about 7 ms instead of 4 (BENCHMARKS.md). The likely cause is V8's:
 * the Map sits in the old generation, its table is rehashed every few hundred insertions, and
 * each table left behind stays there, dead, until a full collection, its pointers to young
 * entries still roots for every scavenge. Putting entries into a fresh Map every
 * GENERATION_SIZE insertions, and dropping each older one once it is empty, keeps the churning
 * tables young, and the pauses are those of messages without clientIds. While entries stay
 * long (the database away), generations stop at MAX_GENERATIONS and the newest one grows, so a
 * lookup never looks through more maps.
 */
export class ShortLivedMap<K, V> {
  #current = new Map<K, V>()
  #insertedIntoCurrent = 0
  readonly #older: Array<Map<K, V>> = []

  get size (): number {
    let size = this.#current.size
    for (const generation of this.#older) size += generation.size
    return size
  }

  /** How many Maps hold the entries now (for tests). */
  get generations (): number {
    return 1 + this.#older.length
  }

  get (key: K): V | undefined {
    const value = this.#current.get(key)
    if (value !== undefined) return value
    for (const generation of this.#older) {
      const older = generation.get(key)
      if (older !== undefined) return older
    }
    return undefined
  }

  set (key: K, value: V): this {
    this.#deleteFromOlder(key)
    if (++this.#insertedIntoCurrent > GENERATION_SIZE && this.#older.length < MAX_GENERATIONS) {
      if (this.#current.size > 0) this.#older.push(this.#current)
      this.#current = new Map()
      this.#insertedIntoCurrent = 1
    }
    this.#current.set(key, value)
    return this
  }

  delete (key: K): boolean {
    return this.#current.delete(key) || this.#deleteFromOlder(key)
  }

  keys (): K[] {
    return [this.#current, ...this.#older].flatMap((generation) => [...generation.keys()])
  }

  #deleteFromOlder (key: K): boolean {
    for (let index = 0; index < this.#older.length; index++) {
      const generation = this.#older[index]!
      if (!generation.delete(key)) continue
      if (generation.size === 0) this.#older.splice(index, 1)
      return true
    }
    return false
  }
}
