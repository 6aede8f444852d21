import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { Fanout, FanoutStatus } from './fanout.js'
import type { Hub } from './hub.js'
import { textFrame } from './ws-frame.js'

const MESSAGE_PREFIX = 'chat:channel:'
const COUNTS_PREFIX = 'chat:counts:'
const INSTANCES_KEY = 'chat:instances'
/** A published message: 16 hex chars of instance id, 24 of message id, then the JSON frame. */
const INSTANCE_ID_LENGTH = 16
const HEADER_LENGTH = INSTANCE_ID_LENGTH + 24
const WARN_INTERVAL_MS = 5_000
const COUNTS_DEBOUNCE_MS = 50

export interface RedisFanoutOptions {
  hub: Hub
  publisher: Redis
  subscriber: Redis
  /** How long this instance's counts outlive it if it crashes. */
  countsTtlMs: number
  log: { warn (object: object, message: string): void, info (object: object, message: string): void }
}

/**
 * Fan-out over Redis pub/sub: one Redis channel per chat channel, subscribed only while this
 * instance has local clients on it. Counts: each instance keeps its own per-channel counts in a
 * hash that expires unless refreshed, and lists itself in a sorted set scored by that expiry.
 */
export class RedisFanout implements Fanout {
  readonly instanceId = randomBytes(INSTANCE_ID_LENGTH / 2).toString('hex')
  readonly #options: RedisFanoutOptions
  readonly #header = Buffer.alloc(HEADER_LENGTH)
  readonly #countsKey = `${COUNTS_PREFIX}${this.instanceId}`
  #timer: NodeJS.Timeout | undefined
  #soon: NodeJS.Timeout | undefined
  readonly #lastWarned = new Map<string, number>()

  constructor (options: RedisFanoutOptions) {
    this.#options = options
    this.#header.write(this.instanceId, 0, 'latin1')
    const { hub, subscriber } = options
    subscriber.on('messageBuffer', (redisChannel: Buffer, payload: Buffer) => this.#receive(redisChannel, payload))
    hub.watch({
      onChannelOpened: (channel) => this.#follow(subscriber.subscribe(MESSAGE_PREFIX + channel), 'subscribe'),
      onChannelClosed: (channel) => this.#follow(subscriber.unsubscribe(MESSAGE_PREFIX + channel), 'unsubscribe'),
      onCountChanged: () => this.#countsDidChange()
    })
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

  publish (channel: string, messageId: string, payload: Buffer): void {
    this.#header.write(messageId, INSTANCE_ID_LENGTH, 'latin1')
    const message = Buffer.concat([this.#header, payload])
    this.#options.publisher.publish(MESSAGE_PREFIX + channel, message).catch((error: unknown) => {
      this.#warn(error, 'publishing a message to Redis failed; it reached local clients and is stored, but not other instances')
    })
  }

  async counts (channels: string[]): Promise<Record<string, number>> {
    const { publisher, hub } = this.#options
    const totals = channels.map((channel) => hub.count(channel))
    const instances = (await publisher.zrangebyscore(INSTANCES_KEY, Date.now(), '+inf'))
      .filter((instance) => instance !== this.instanceId)
    if (instances.length > 0) {
      const pipeline = publisher.pipeline()
      for (const instance of instances) pipeline.hmget(COUNTS_PREFIX + instance, ...channels)
      for (const [error, values] of (await pipeline.exec()) ?? []) {
        if (error !== null) throw error
        ;(values as Array<string | null>).forEach((value, index) => { totals[index]! += Number(value ?? 0) })
      }
    }
    return Object.fromEntries(channels.map((channel, index) => [channel, totals[index]!]))
  }

  status (): FanoutStatus {
    const { publisher, subscriber } = this.#options
    return publisher.status === 'ready' && subscriber.status === 'ready' ? 'up' : 'down'
  }

  #receive (redisChannel: Buffer, payload: Buffer): void {
    if (payload.length <= HEADER_LENGTH) return
    // Local clients already got the messages of this instance.
    if (payload.toString('latin1', 0, INSTANCE_ID_LENGTH) === this.instanceId) return
    const channel = redisChannel.toString('utf8', MESSAGE_PREFIX.length)
    const messageId = payload.toString('latin1', INSTANCE_ID_LENGTH, HEADER_LENGTH)
    this.#options.hub.broadcast(channel, messageId, textFrame(payload.subarray(HEADER_LENGTH)))
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
    this.#publishCounts().catch((error: unknown) => this.#warn(error, 'publishing counts to Redis failed'))
  }

  async #publishCounts (): Promise<void> {
    const { publisher, hub, countsTtlMs } = this.#options
    const expiresAt = Date.now() + countsTtlMs
    // The whole hash every time, not only changes: a Redis that restarted or was flushed in
    // between has lost it, and a lone PEXPIRE would not bring it back.
    const transaction = publisher.multi().del(this.#countsKey)
    const counts = hub.counts()
    if (counts.size > 0) transaction.hset(this.#countsKey, Object.fromEntries(counts))
    transaction.pexpire(this.#countsKey, countsTtlMs)
      .zadd(INSTANCES_KEY, expiresAt, this.instanceId)
      .zremrangebyscore(INSTANCES_KEY, '-inf', Date.now())
    await transaction.exec()
  }

  #follow (command: Promise<unknown>, what: string): void {
    command.catch((error: unknown) => this.#warn(error, `Redis ${what} failed; ioredis re-subscribes on reconnect`))
  }

  /** Each kind of failure is logged at most every few seconds: an outage must not flood the log. */
  #warn (error: unknown, message: string): void {
    const now = Date.now()
    if (now - (this.#lastWarned.get(message) ?? 0) < WARN_INTERVAL_MS) return
    this.#lastWarned.set(message, now)
    this.#options.log.warn({ err: error }, message)
  }
}
