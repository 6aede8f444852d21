import { randomBytes } from 'node:crypto'
import type { Redis, Result } from 'ioredis'
import { deliverLocally, type Fanout, type FanoutStatus, type Published } from './fanout.js'
import type { Hub } from './hub.js'
import { splitAroundSeq, withSeq, type ChatMessage, type Draft } from './message.js'
import { LocalSequencer, type Position } from './sequencer.js'
import { textFrame } from './ws-frame.js'

const COUNTS_PREFIX = 'chat:counts:'
const INSTANCES_KEY = 'chat:instances'
const INSTANCE_ID_LENGTH = 16
const WARN_INTERVAL_MS = 5_000
const COUNTS_DEBOUNCE_MS = 50
/** A channel's sequencer state outlives its last message by this much; after it, a new epoch starts. */
const SEQUENCE_TTL_MS = 24 * 60 * 60 * 1000
/** How long Redis remembers a sender's clientId, so a resend to another instance before the first is stored is still recognised. */
const CLIENT_ID_TTL_MS = 10 * 60 * 1000
/** Channels whose newest seq this instance remembers at most (a floor for sequencing while Redis is away). */
const REMEMBERED_CHANNELS = 100_000

// Every key of a channel carries the channel in braces: one Redis Cluster slot per channel.
const sequenceKey = (channel: string): string => `chat:{${channel}}:seq`
const messagesChannel = (channel: string): string => `chat:{${channel}}:messages`
const clientIdKey = (channel: string, sender: string, clientId: string): string => `chat:{${channel}}:cid:${clientId}|${sender}`
const channelOf = (redisChannel: string): string => redisChannel.slice('chat:{'.length, -'}:messages'.length)

/**
 * Orders and publishes one message atomically: unless the sender's clientId is known already,
 * the channel's seq grows by one (a new epoch starts at Redis's clock, in microseconds, when the
 * state is missing or below the floor), and the message goes out as "<seq> <json>". Redis runs
 * scripts one at a time, so the publishes of a channel leave in seq order.
 * KEYS: sequence hash, [clientId key]. ARGV: pub/sub channel, JSON before the seq, JSON after
 * it, floor, sequence TTL, clientId TTL.
 */
const PUBLISH_SCRIPT = `
if KEYS[2] then
  local earlier = redis.call('GET', KEYS[2])
  if earlier then return {0, earlier} end
end
local seq = tonumber(redis.call('HGET', KEYS[1], 's') or '0') + 1
local floor = tonumber(ARGV[4])
if seq == 1 or seq <= floor then
  local now = redis.call('TIME')
  seq = math.max(tonumber(now[1]) * 1000000 + tonumber(now[2]), floor + 1, seq)
  redis.call('HSET', KEYS[1], 'e', string.format('%.0f', seq))
end
local text = string.format('%.0f', seq)
redis.call('HSET', KEYS[1], 's', text)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local json = ARGV[2] .. text .. ARGV[3]
if KEYS[2] then redis.call('SET', KEYS[2], json, 'PX', ARGV[6]) end
redis.call('PUBLISH', ARGV[1], text .. ' ' .. json)
return {1, text}
`

type PublishReply = [0 | 1, string]

declare module 'ioredis' {
  interface RedisCommander<Context> {
    chatPublish (numberOfKeys: number, ...args: string[]): Result<PublishReply, Context>
  }
}

/** A PUBLISH_SCRIPT call waiting for the end of the turn, when the turn's calls go out as one pipeline. */
interface PendingPublish {
  numberOfKeys: number
  args: string[]
  resolve (reply: PublishReply): void
  reject (error: unknown): void
}

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
 * instance has local clients on it. Redis also orders each channel (see PUBLISH_SCRIPT), and every
 * instance, the publishing one included, delivers from its subscription, so every client sees a
 * channel in the one order that catch-up and history use. While Redis is unreachable an instance
 * orders and delivers its own messages locally. Counts: each instance keeps its own per-channel
 * counts in a hash that expires unless refreshed, and lists itself in a sorted set scored by that expiry.
 */
export class RedisFanout implements Fanout {
  readonly instanceId = randomBytes(INSTANCE_ID_LENGTH / 2).toString('hex')
  readonly #options: RedisFanoutOptions
  readonly #countsKey = `${COUNTS_PREFIX}${this.instanceId}`
  readonly #subscriptions = new Map<string, Promise<unknown>>()
  /** Sequencing while Redis is away; above the newest seq seen from Redis, so order holds when it is back. */
  readonly #fallback = new LocalSequencer()
  readonly #newestSeen = new Map<string, number>()
  #timer: NodeJS.Timeout | undefined
  #soon: NodeJS.Timeout | undefined
  readonly #lastWarned = new Map<string, number>()
  #pending: PendingPublish[] = []

  constructor (options: RedisFanoutOptions) {
    this.#options = options
    const { hub, subscriber, publisher } = options
    publisher.defineCommand('chatPublish', { lua: PUBLISH_SCRIPT })
    subscriber.on('messageBuffer', (redisChannel: Buffer, payload: Buffer) => this.#receive(redisChannel, payload))
    hub.watch({
      onChannelOpened: (channel) => this.#subscribe(channel),
      onChannelClosed: (channel) => {
        this.#subscriptions.delete(channel)
        this.#follow(subscriber.unsubscribe(messagesChannel(channel)), 'unsubscribe')
      },
      onCountChanged: () => this.#countsDidChange()
    })
  }

  start (): void {
    this.#refreshCounts()
    this.#timer = setInterval(() => {
      this.#refreshCounts()
      this.#fallback.forgetIdle(SEQUENCE_TTL_MS)
    }, Math.floor(this.#options.countsTtlMs / 3))
  }

  /** Clean shutdown: this instance's clients leave the counts at once. */
  async stop (): Promise<void> {
    clearInterval(this.#timer)
    clearTimeout(this.#soon)
    this.#timer = undefined
    const { publisher } = this.#options
    await publisher.multi().del(this.#countsKey).zrem(INSTANCES_KEY, this.instanceId).exec().catch(() => {})
  }

  async publish (draft: Draft, accept: (message: ChatMessage) => void): Promise<Published> {
    const { subscriber, hub } = this.#options
    const { channel, sender, clientId } = draft
    const [before, after] = splitAroundSeq(draft)
    const keys = clientId === undefined ? [sequenceKey(channel)] : [sequenceKey(channel), clientIdKey(channel, sender, clientId)]
    const floor = this.#fallback.current(channel)?.seq ?? 0
    let reply: PublishReply
    try {
      reply = await this.#order(keys.length, [...keys, messagesChannel(channel), before, after,
        String(floor), String(SEQUENCE_TTL_MS), String(CLIENT_ID_TTL_MS)])
    } catch (error) {
      this.#warn(error, 'ordering a message through Redis failed; this instance orders and delivers it locally, other instances do not get it live')
      const message = withSeq(draft, this.#fallback.next(channel, this.#newestSeen.get(channel)).seq)
      accept(message)
      deliverLocally(hub, message)
      return { message, duplicate: false }
    }
    if (reply[0] === 0) return { message: parseMessage(reply[1]), duplicate: true }
    const message = withSeq(draft, Number(reply[1]))
    this.#remember(channel, message.seq)
    accept(message)
    // Without a subscription, it would not come back to this instance's clients.
    if (subscriber.status !== 'ready') deliverLocally(hub, message)
    return { message, duplicate: false }
  }

  /**
   * Runs PUBLISH_SCRIPT at the end of the turn, in one pipeline with every other call of the
   * turn, in call order: one write and one reply read for a burst instead of one per message.
   */
  #order (numberOfKeys: number, args: string[]): Promise<PublishReply> {
    return new Promise((resolve, reject) => {
      if (this.#pending.push({ numberOfKeys, args, resolve, reject }) === 1) setImmediate(() => this.#sendPending())
    })
  }

  #sendPending (): void {
    const batch = this.#pending
    this.#pending = []
    const pipeline = this.#options.publisher.pipeline()
    for (const { numberOfKeys, args } of batch) pipeline.chatPublish(numberOfKeys, ...args)
    pipeline.exec().then((results) => {
      batch.forEach((call, index) => {
        const [error, reply] = results?.[index] ?? [new Error('no reply from Redis')]
        if (error === null) call.resolve(reply as PublishReply)
        else call.reject(error)
      })
    }, (error: unknown) => { for (const call of batch) call.reject(error) })
  }

  live (channel: string): Promise<void> {
    const subscription = this.#subscriptions.get(channel)
    if (subscription === undefined || this.#options.subscriber.status !== 'ready') return Promise.resolve()
    return subscription.then(() => {}, () => {})
  }

  async frontier (channel: string): Promise<Position | undefined> {
    const [seq, epoch] = await this.#options.publisher.hmget(sequenceKey(channel), 's', 'e')
    const fallback = this.#fallback.current(channel)
    if (seq === null || epoch === null) return fallback
    const position = { seq: Number(seq), epoch: Number(epoch) }
    return fallback !== undefined && fallback.seq > position.seq ? fallback : position
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

  /** "<seq> <json>", as PUBLISH_SCRIPT sends it. */
  #receive (redisChannel: Buffer, payload: Buffer): void {
    const space = payload.indexOf(0x20)
    if (space < 1) return
    const channel = channelOf(redisChannel.toString('utf8'))
    const seq = Number(payload.toString('latin1', 0, space))
    this.#remember(channel, seq)
    this.#options.hub.broadcast(channel, seq, textFrame(payload.subarray(space + 1)))
  }

  #subscribe (channel: string): void {
    const subscription = this.#options.subscriber.subscribe(messagesChannel(channel))
    this.#subscriptions.set(channel, subscription)
    this.#follow(subscription, 'subscribe')
  }

  /** The newest seq of each recently active channel: where local ordering starts if Redis goes away. */
  #remember (channel: string, seq: number): void {
    if (this.#newestSeen.size >= REMEMBERED_CHANNELS && !this.#newestSeen.has(channel)) this.#newestSeen.clear()
    this.#newestSeen.set(channel, seq)
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

function parseMessage (json: string): ChatMessage {
  const message = JSON.parse(json) as ChatMessage & { createdAt: string }
  return { ...message, createdAt: new Date(message.createdAt) }
}
