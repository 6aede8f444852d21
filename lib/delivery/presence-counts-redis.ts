import { randomBytes } from 'node:crypto'
import { ThrottledWarnings } from '../operations/throttled-warnings.js'
import type { Hub } from './hub.js'
import { countsOf, type ChannelCounts } from './presence-counts.js'
import { ready, type RedisClient } from './redis-connection.js'

// The counts keys share one hash tag, so that one transaction can write them on a cluster too.
const COUNTS_PREFIX = 'chat:{counts}:'
const INSTANCES_KEY = 'chat:{counts}:instances'
const INSTANCE_ID_LENGTH = 16
const COUNTS_DEBOUNCE_MS = 50

export interface RedisCountsOptions {
  hub: Hub
  publisher: RedisClient
  /** How long this instance's counts outlive it if it crashes. */
  countsTtlMs: number
  log: { warn (object: object, message: string): void }
}

/**
 * Cluster-wide counts: each instance keeps its own per-channel counts in a hash that expires
 * unless refreshed (every third of COUNTS_TTL_MS, and soon after a change), and lists itself in a
 * sorted set scored by that expiry; a count adds up the hashes of the instances still listed. An
 * instance that crashes leaves the counts when its hash expires.
 */
export class RedisCounts implements ChannelCounts {
  readonly instanceId = randomBytes(INSTANCE_ID_LENGTH / 2).toString('hex')
  readonly #options: RedisCountsOptions
  readonly #warnings: ThrottledWarnings
  readonly #countsKey = `${COUNTS_PREFIX}${this.instanceId}`
  #timer: NodeJS.Timeout | undefined
  #soon: NodeJS.Timeout | undefined

  constructor (options: RedisCountsOptions) {
    this.#options = options
    this.#warnings = new ThrottledWarnings(options.log)
    options.hub.watch({ onCountChanged: () => this.#countsDidChange() })
  }

  start (): void {
    this.#refreshCounts()
    this.#timer = setInterval(() => this.#refreshCounts(), Math.floor(this.#options.countsTtlMs / 3))
  }

  /** Clean shutdown: this instance's clients leave the counts at once. */
  async stop (): Promise<void> {
    clearInterval(this.#timer)
    clearTimeout(this.#soon)
    this.#timer = undefined
    const { publisher } = this.#options
    await publisher.multi().del(this.#countsKey).zrem(INSTANCES_KEY, this.instanceId).exec().catch(() => {})
  }

  async counts (channels: string[]): Promise<Record<string, number>> {
    const { publisher, hub } = this.#options
    const totals = channels.map((channel) => hub.count(channel))
    const instances = (await ready(publisher).zrangebyscore(INSTANCES_KEY, Date.now(), '+inf'))
      .filter((instance) => instance !== this.instanceId)
    if (instances.length > 0) {
      const pipeline = publisher.pipeline()
      for (const instance of instances) pipeline.hmget(COUNTS_PREFIX + instance, ...channels)
      for (const [error, values] of (await pipeline.exec()) ?? []) {
        if (error !== null) throw error
        ;(values as Array<string | null>).forEach((value, index) => { totals[index]! += Number(value ?? 0) })
      }
    }
    return countsOf(channels, (_channel, index) => totals[index]!)
  }

  /** Other instances see a change within COUNTS_DEBOUNCE_MS, however many sockets come and go. */
  #countsDidChange (): void {
    if (this.#timer === undefined || this.#soon !== undefined) return
    this.#soon = setTimeout(() => {
      this.#soon = undefined
      this.#refreshCounts()
    }, COUNTS_DEBOUNCE_MS)
  }

  #refreshCounts (): void {
    this.#publishCounts().catch((error: unknown) => this.#warnings.warn(error, 'publishing counts to Redis failed'))
  }

  async #publishCounts (): Promise<void> {
    const { publisher, hub, countsTtlMs } = this.#options
    const expiresAt = Date.now() + countsTtlMs
    // The whole hash every time, not only changes: a Redis that restarted or was flushed in
    // between has lost it, and a lone PEXPIRE would not bring it back.
    const transaction = ready(publisher).multi().del(this.#countsKey)
    const counts = hub.counts()
    if (counts.size > 0) transaction.hset(this.#countsKey, Object.fromEntries(counts))
    transaction.pexpire(this.#countsKey, countsTtlMs)
      .zadd(INSTANCES_KEY, expiresAt, this.instanceId)
      .zremrangebyscore(INSTANCES_KEY, '-inf', Date.now())
    await transaction.exec()
  }
}
