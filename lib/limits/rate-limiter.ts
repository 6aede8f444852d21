/** Buckets that became full again are swept at most this often, so idle users cost no memory. */
const MIN_SWEEP_INTERVAL_MS = 1_000

interface Bucket {
  tokens: number
  at: number
}

export interface RateLimiterOptions {
  /** Tokens added per second; 0 turns the limiter off. */
  rate: number
  /** Tokens a bucket holds at most (at least 1). */
  burst: number
  now?: () => number
}

/**
 * One token bucket per key (a user id): `rate` tokens a second, up to `burst`. A bucket that has
 * refilled is the same as none, so full buckets are dropped: memory grows with the keys that
 * sent within the last `burst / rate` seconds, not with every key ever seen.
 */
export class RateLimiter {
  readonly #rate: number
  readonly #burst: number
  readonly #now: () => number
  readonly #refillMs: number
  readonly #buckets = new Map<string, Bucket>()
  #sweptAt: number

  constructor (options: RateLimiterOptions) {
    this.#rate = options.rate
    this.#burst = Math.max(1, options.burst)
    this.#now = options.now ?? Date.now
    this.#refillMs = this.#rate > 0 ? this.#burst * 1000 / this.#rate : 0
    this.#sweptAt = this.#now()
  }

  /** Buckets currently kept. */
  get size (): number {
    return this.#buckets.size
  }

  /** Takes a token for the key: 0 when there was one, otherwise the milliseconds until there is. */
  take (key: string): number {
    if (this.#rate <= 0) return 0
    const now = this.#now()
    if (now - this.#sweptAt >= Math.max(MIN_SWEEP_INTERVAL_MS, this.#refillMs)) this.#sweep(now)
    const bucket = this.#buckets.get(key)
    const tokens = bucket === undefined ? this.#burst : this.#tokens(bucket, now)
    const left = tokens >= 1 ? tokens - 1 : tokens
    // Updated in place: a message is taken on every send, and a new bucket for each was garbage.
    if (bucket === undefined) this.#buckets.set(key, { tokens: left, at: now })
    else { bucket.tokens = left; bucket.at = now }
    if (tokens >= 1) return 0
    // Less a rounding error: 1 - 0.998 tokens at 2/s is 1 ms, not 1.0000000000000009.
    return Math.max(1, Math.ceil((1 - tokens) * 1000 / this.#rate - 1e-6))
  }

  #tokens (bucket: Bucket, now: number): number {
    return Math.min(this.#burst, bucket.tokens + (now - bucket.at) * this.#rate / 1000)
  }

  #sweep (now: number): void {
    this.#sweptAt = now
    for (const [key, bucket] of this.#buckets) {
      if (this.#tokens(bucket, now) >= this.#burst) this.#buckets.delete(key)
    }
  }
}
