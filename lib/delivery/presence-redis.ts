import { randomBytes } from 'node:crypto'
import type { Result } from 'ioredis'
import { firstUsers, JOIN_SIGNAL, LEAVE_SIGNAL, type Presence, type PresentUsers } from './presence.js'
import { CLAIM_SCRIPT, FORGET_SCRIPT, HOLD_SCRIPT, RELEASE_SCRIPT } from './presence-redis-scripts.js'
import { keyOf, PresenceTracker } from './presence-tracker.js'
import { ready, type RedisClient } from './redis-connection.js'
import { signalPayload, SIGNALS_CHANNEL, type RedisSignals } from './signals-redis.js'
import { ThrottledWarnings, type WarnLogger } from '../operations/throttled-warnings.js'

const INSTANCES_KEY = 'chat:{presence}:instances'
const heldKey = (instance: string): string => `chat:{presence}:held:${instance}`
const channelKeys = (channel: string): [string, string, string] =>
  [`chat:{${channel}}:presence`, `chat:{${channel}}:presence:instances`, `chat:{${channel}}:presence:holders`]
/** How long a survivor may take to reap a dead instance before another one does it instead. */
const REAP_LEASE_MS = 10_000

declare module 'ioredis' {
  interface RedisCommander<Context> {
    chatPresenceHold (
      users: string, instances: string, holders: string, holder: string, user: string, signals: string, payload: string
    ): Result<number, Context>
    chatPresenceRelease (
      users: string, instances: string, holders: string, holder: string, user: string, signals: string, payload: string
    ): Result<number, Context>
    chatPresenceClaim (instances: string, instance: string, now: number, leaseEnd: number): Result<number, Context>
    chatPresenceForget (instances: string, held: string, instance: string): Result<number, Context>
  }
}

export interface RedisPresenceOptions {
  redis: RedisClient
  signals: RedisSignals
  leaveDelayMs: number
  /** How long the presence of an instance that crashed outlives its last heartbeat. */
  ttlMs: number
  log: WarnLogger
}

/**
 * Presence across instances. Each channel has, in Redis, its present users (a sorted set, for
 * the first N in order), how many instances hold each, and which instance holds which user;
 * each instance lists what it holds in a set of its own and keeps a heartbeat in a sorted set of
 * instances. Only a user's first socket on an instance and the end of their last one cost a
 * Redis call, never a message.
 *
 * After a crash, survivors see the heartbeat expire and release what the dead instance held:
 * its users leave unless another instance still holds them. While Redis is unreachable this
 * instance answers with its own users and tells its own listeners of its own changes; it puts
 * Redis right (adds what it holds, releases what it no longer holds) at its next heartbeat once
 * Redis is back, and whenever Redis lost what it held (a restart, or survivors that reaped an
 * instance that was only slow).
 */
export class RedisPresence implements Presence {
  readonly instanceId = randomBytes(8).toString('hex')
  readonly #redis: RedisClient
  readonly #signals: RedisSignals
  readonly #ttlMs: number
  readonly #tracker: PresenceTracker
  readonly #warnings: ThrottledWarnings
  /** Redis calls of one channel and user run one after the other. */
  readonly #chains = new Map<string, Promise<void>>()
  /** How many entries this instance's held set should have, as far as it knows. */
  #held = 0
  /** Something failed: put Redis right at the next heartbeat. */
  #dirty = false
  #stopped = false
  /** A heartbeat that outlasts the interval (Redis slow) is not joined by the next one. */
  #beating = false
  #timer: NodeJS.Timeout | undefined

  constructor (options: RedisPresenceOptions) {
    this.#redis = options.redis
    this.#signals = options.signals
    this.#ttlMs = options.ttlMs
    this.#warnings = new ThrottledWarnings(options.log)
    const redis = options.redis
    redis.defineCommand('chatPresenceHold', { numberOfKeys: 3, lua: HOLD_SCRIPT })
    redis.defineCommand('chatPresenceRelease', { numberOfKeys: 3, lua: RELEASE_SCRIPT })
    redis.defineCommand('chatPresenceClaim', { numberOfKeys: 1, lua: CLAIM_SCRIPT })
    redis.defineCommand('chatPresenceForget', { numberOfKeys: 2, lua: FORGET_SCRIPT })
    this.#tracker = new PresenceTracker(options.leaveDelayMs, {
      arrived: (channel, user) => this.#sync(channel, user),
      departed: (channel, user) => this.#sync(channel, user)
    })
  }

  async add (channel: string, user: string): Promise<void> {
    if (this.#stopped) return
    this.#tracker.add(channel, user)
    await this.#chains.get(keyOf(channel, user))
  }

  remove (channel: string, user: string): void {
    this.#tracker.remove(channel, user)
  }

  async users (channel: string, limit: number): Promise<PresentUsers> {
    const [usersKey] = channelKeys(channel)
    try {
      const redis = ready(this.#redis)
      const [total, users] = await Promise.all([redis.zcard(usersKey), redis.zrange(usersKey, 0, limit - 1)])
      return { total, users }
    } catch (error) {
      this.#warnings.warn(error, 'reading presence from Redis failed; answering with this instance\'s users')
      return firstUsers(this.#tracker.users(channel), limit)
    }
  }

  get localUsers (): number {
    return this.#tracker.distinctUsers
  }

  start (): void {
    this.#heartbeat()
    this.#timer = setInterval(() => this.#heartbeat(), Math.floor(this.#ttlMs / 3))
  }

  /**
   * Stops holding anything, but leaves what Redis holds for this instance to the survivors, as
   * after a crash: the clients it closes reconnect elsewhere meanwhile, and their users do not
   * leave and come back.
   */
  async stop (): Promise<void> {
    this.#stopped = true
    clearInterval(this.#timer)
    this.#tracker.clear()
    await Promise.allSettled(this.#chains.values())
  }

  /** Brings Redis in line with whether the user is present here now, after any call of theirs still running. */
  #sync (channel: string, user: string): void {
    const key = keyOf(channel, user)
    const previous = this.#chains.get(key) ?? Promise.resolve()
    const next = previous.then(() => this.#stopped ? undefined : this.#apply(channel, user)).catch((error: unknown) => {
      this.#dirty = true
      this.#warnings.warn(error, 'updating presence in Redis failed; this instance\'s listeners hear of it, others once Redis is back')
      this.#signals.deliverLocally(channel, this.#tracker.has(channel, user) ? JOIN_SIGNAL : LEAVE_SIGNAL, user)
    }).finally(() => {
      if (this.#chains.get(key) === next) this.#chains.delete(key)
    })
    this.#chains.set(key, next)
  }

  /** What is held is listed in the instance's set first and unlisted last, so a crash in between leaves nothing unlisted. */
  async #apply (channel: string, user: string): Promise<void> {
    const redis = ready(this.#redis)
    const entry = keyOf(channel, user)
    const args = [...channelKeys(channel), `${this.instanceId}\n${user}`, user, SIGNALS_CHANNEL] as const
    if (this.#tracker.has(channel, user)) {
      if (await redis.sadd(heldKey(this.instanceId), entry) === 1) this.#held++
      await redis.chatPresenceHold(...args, signalPayload(channel, JOIN_SIGNAL, user))
    } else {
      await redis.chatPresenceRelease(...args, signalPayload(channel, LEAVE_SIGNAL, user))
      if (await redis.srem(heldKey(this.instanceId), entry) === 1) this.#held--
    }
  }

  #heartbeat (): void {
    if (this.#beating) return
    this.#beating = true
    this.#beat().catch((error: unknown) => {
      this.#dirty = true
      this.#warnings.warn(error, 'presence heartbeat to Redis failed')
    }).finally(() => { this.#beating = false })
  }

  async #beat (): Promise<void> {
    const redis = ready(this.#redis)
    const now = Date.now()
    const replies = await redis.multi()
      .zadd(INSTANCES_KEY, now + this.#ttlMs, this.instanceId)
      .scard(heldKey(this.instanceId))
      .exec()
    const held = Number(replies?.[1]?.[1] ?? -1)
    if (this.#dirty || held !== this.#held) await this.#putRight()
    const expired = await redis.zrangebyscore(INSTANCES_KEY, '-inf', now)
    for (const instance of expired) {
      if (instance !== this.instanceId) await this.#reap(instance, now)
    }
  }

  /** Holds in Redis exactly what is present here: after an outage, a Redis restart, or being reaped while alive. */
  async #putRight (): Promise<void> {
    this.#dirty = false
    const redis = ready(this.#redis)
    const listed = await redis.smembers(heldKey(this.instanceId))
    this.#held = listed.length
    const entries = new Set(listed)
    for (const [channel, user] of this.#tracker.entries()) entries.add(keyOf(channel, user))
    for (const entry of entries) {
      const [channel, user] = splitEntry(entry)
      this.#sync(channel, user)
    }
  }

  /** Releases what a dead instance held, unless another survivor is already at it. */
  async #reap (instance: string, now: number): Promise<void> {
    const redis = ready(this.#redis)
    if (await redis.chatPresenceClaim(INSTANCES_KEY, instance, now, now + REAP_LEASE_MS) !== 1) return
    const held = heldKey(instance)
    for (const entry of await redis.smembers(held)) {
      const [channel, user] = splitEntry(entry)
      await redis.chatPresenceRelease(...channelKeys(channel), `${instance}\n${user}`, user, SIGNALS_CHANNEL, signalPayload(channel, LEAVE_SIGNAL, user))
      await redis.srem(held, entry)
    }
    await redis.chatPresenceForget(INSTANCES_KEY, held, instance)
  }
}

function splitEntry (entry: string): [string, string] {
  const newline = entry.indexOf('\n')
  return [entry.slice(0, newline), entry.slice(newline + 1)]
}
