import type { Result } from 'ioredis'
import { deliverLocally, type ChannelHold, type Fanout, type FanoutStatus, type Published } from './broker.js'
import type { Hub } from './hub.js'
import { ready, type RedisClient } from './redis-connection.js'
import { jsonAfterSeq, jsonBeforeSeq, withSeq, type ChatMessage, type Draft } from '../messages/message.js'
import { LocalSequencer, type Position } from '../messages/sequencer.js'
import { ThrottledWarnings } from '../operations/throttled-warnings.js'
import { within } from '../util/within.js'
import { frameCount, textFrameOf } from './frame-bytes.js'

/** A channel's sequencer state outlives its last message by this much; after it, a new epoch starts. */
const SEQUENCE_TTL_MS = 24 * 60 * 60 * 1000
const SEQUENCE_SWEEP_MS = 60_000
/** How long Redis remembers a sender's clientId, so a resend to another instance before the first is stored is still recognised. */
const CLIENT_ID_TTL_MS = 10 * 60 * 1000
/** Channels whose newest seq this instance remembers at most (a floor for sequencing while Redis is away). */
const REMEMBERED_CHANNELS = 100_000
/** While Redis's first connection is on its way, how long a channel waits for its subscription to be live. */
const FIRST_CONNECTION_WAIT_MS = 2_000

// Every key of a channel, and its pub/sub channel, carry the channel in braces: one Redis Cluster
// slot per channel, so the ordering script's keys and its shard channel are all on one shard.
const sequenceKey = (channel: string): string => `chat:{${channel}}:seq`
const messagesChannel = (channel: string): string => `chat:{${channel}}:messages`
const clientIdKey = (channel: string, sender: string, clientId: string): string => `chat:{${channel}}:cid:${clientId}|${sender}`
const channelOf = (redisChannel: string): string => redisChannel.slice('chat:{'.length, -'}:messages'.length)

/**
 * Orders and publishes the messages of one turn atomically, for one or more channels (one per
 * call on a cluster, where a call's keys must share a slot; every channel of the turn in one call
 * on a single Redis). For each message, unless the sender's clientId is known already, its
 * channel's seq grows by one (a new epoch starts at Redis's clock, in microseconds, when the state
 * is missing or below the floor; only the first new message of a channel can start one, so a
 * channel's new messages of a call have consecutive seqs). A channel's new messages go out in one
 * pub/sub message: the first one's seq and a newline, then each message as a ready WebSocket text
 * frame (RFC 6455 5.2), which every instance writes to its sockets as it is. Redis runs scripts
 * one at a time, so the publishes of a channel leave in seq order.
 * KEYS: per channel, its sequence hash, then the clientId key of each message that has one, in order.
 * ARGV: sequence TTL, clientId TTL, then per channel: its pub/sub channel, floor, one flag per
 * message ("1": it has a clientId, "0": not, "2": a change to a message), and its messages in one
 * string: per message its JSON before the seq and a newline, then, for a message with a clientId,
 * its JSON after the seq and a newline (for the others that is "}"). A change's frame does not
 * show its seq: its whole JSON stands where a message's JSON before the seq does. JSON text
 * never holds a raw newline (it escapes one inside strings), and one string per channel instead
 * of one or two per message is most of what a call costs the client library.
 * Returns, per channel: the first new seq ("" if none), the number of its messages whose clientId
 * was known, and for each of those its index (from 1) and the earlier message's JSON.
 * `publish` is PUBLISH, or SPUBLISH on a cluster.
 * Per message the script makes no string it can do without: a frame is its header and the pieces
 * of its JSON, joined once by table.concat, and seqs are formatted with %d (a C long, exact for
 * integers up to 2^53), which costs half of %.0f's exact floating-point printing.
 */
const publishScript = (publish: 'PUBLISH' | 'SPUBLISH'): string => `
local replies, key = {}, 0
for at = 3, #ARGV, 4 do
  local floor, flags, payload = tonumber(ARGV[at + 1]), ARGV[at + 2], ARGV[at + 3]
  key = key + 1
  local sequenceKey = KEYS[key]
  local last = tonumber(redis.call('HGET', sequenceKey, 's') or '0')
  local seq = last
  local first, resends = #replies + 1, 0
  replies[first] = ''
  replies[first + 1] = 0
  local frames, pieces, from = {}, 0, 1
  for index = 1, #flags do
    local flag = string.byte(flags, index)
    local newline = string.find(payload, '\\n', from, true)
    local before, after, clientIdKey = string.sub(payload, from, newline - 1), '}', nil
    from = newline + 1
    if flag == 50 then after = '' end
    if flag == 49 then
      newline = string.find(payload, '\\n', from, true)
      after = string.sub(payload, from, newline - 1)
      from = newline + 1
      key = key + 1
      clientIdKey = KEYS[key]
    end
    local earlier = clientIdKey and redis.call('GET', clientIdKey)
    if earlier then
      resends = resends + 1
      replies[#replies + 1] = index
      replies[#replies + 1] = earlier
    else
      seq = seq + 1
      if seq == 1 or seq <= floor then
        local now = redis.call('TIME')
        seq = math.max(tonumber(now[1]) * 1000000 + tonumber(now[2]), floor + 1, seq)
        redis.call('HSET', sequenceKey, 'e', string.format('%d', seq))
      end
      local digits = string.format('%d', seq)
      if replies[first] == '' then replies[first] = digits end
      if clientIdKey then redis.call('SET', clientIdKey, before .. digits .. after, 'PX', ARGV[2]) end
      local shown = flag == 50 and '' or digits
      local length = #before + #shown + #after
      if length < 126 then
        frames[pieces + 1] = string.char(129, length)
      elseif length < 65536 then
        frames[pieces + 1] = struct.pack('>BBI2', 129, 126, length)
      else
        frames[pieces + 1] = struct.pack('>BBI4I4', 129, 127, 0, length)
      end
      frames[pieces + 2] = before
      frames[pieces + 3] = shown
      frames[pieces + 4] = after
      pieces = pieces + 4
    end
  end
  replies[first + 1] = resends
  if seq ~= last then
    redis.call('HSET', sequenceKey, 's', string.format('%d', seq))
    redis.call('PEXPIRE', sequenceKey, ARGV[1])
    redis.call('${publish}', ARGV[at], replies[first] .. '\\n' .. table.concat(frames))
  end
end
return replies
`

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** ioredis flattens array arguments into the command's. */
    chatPublish (numberOfKeys: number, keys: string[], argv: string[]): Result<Array<number | string>, Context>
  }
}

/** A message waiting for the end of the turn, when the turn's messages go to the ordering script together. */
interface PendingPublish {
  draft: Draft
  /** A change's frame (see publishChange): the call orders it in place of the draft, which stands for its channel only. */
  change?: string
  accept (message: ChatMessage): void
  resolve (published: Published): void
  reject (error: unknown): void
}

export interface RedisFanoutOptions {
  hub: Hub
  publisher: RedisClient
  subscriber: RedisClient
  /** SPUBLISH/SSUBSCRIBE (a Redis Cluster) instead of PUBLISH/SUBSCRIBE. */
  sharded: boolean
  /** Whether Redis (every shard of a cluster) is reachable, for `status`. */
  isUp (): boolean
  log: { warn (object: object, message: string): void, info (object: object, message: string): void }
}

/**
 * Fan-out over Redis pub/sub: one Redis channel per chat channel, subscribed only while this
 * instance has local clients on it. Redis also orders each channel (see publishScript), and every
 * instance, the publishing one included, delivers from its subscription, so every client sees a
 * channel in the one order that catch-up and history use. While Redis is unreachable an instance
 * orders and delivers its own messages locally. (The per-channel counts are presence-counts-redis.ts.)
 */
export class RedisFanout implements Fanout {
  readonly #options: RedisFanoutOptions
  readonly #warnings: ThrottledWarnings
  readonly #subscriptions = new Map<string, Promise<unknown>>()
  /** Channels held live for clients about to join (see `hold`), by number of holds. */
  readonly #holds = new Map<string, number>()
  /** Sequencing while Redis is away; above the newest seq seen from Redis, so order holds when it is back. */
  readonly #fallback = new LocalSequencer()
  readonly #newestSeen = new Map<string, number>()
  #timer: NodeJS.Timeout | undefined
  /** By channel, in call order. */
  #pending = new Map<string, PendingPublish[]>()
  /** Until the subscriber's first connection is ready or has failed: subscriptions made meanwhile go out as soon as it is ready. */
  #firstConnection: boolean

  constructor (options: RedisFanoutOptions) {
    this.#options = options
    this.#warnings = new ThrottledWarnings(options.log)
    const { hub, subscriber, publisher, sharded } = options
    publisher.defineCommand('chatPublish', { lua: publishScript(sharded ? 'SPUBLISH' : 'PUBLISH') })
    subscriber.on(sharded ? 'smessageBuffer' : 'messageBuffer', (redisChannel: Buffer, payload: Buffer) => this.#receive(redisChannel, payload))
    // ioredis emits each status it enters as an event, for one Redis and for a cluster alike.
    this.#firstConnection = subscriber.status !== 'ready'
    const connected = (): void => { this.#firstConnection = false }
    subscriber.once('ready', connected)
    subscriber.once('close', connected)
    hub.watch({
      onChannelOpened: (channel) => this.#subscribe(channel),
      onChannelClosed: (channel) => { if (!this.#holds.has(channel)) this.#unsubscribe(channel) }
    })
  }

  start (): void {
    this.#timer = setInterval(() => this.#fallback.forgetIdle(SEQUENCE_TTL_MS), SEQUENCE_SWEEP_MS)
    this.#timer.unref()
  }

  stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  publish (draft: Draft, accept: (message: ChatMessage) => void): Promise<Published> {
    // Settled from the script's reply to the whole turn (see #settle), not an awaited promise per message.
    return new Promise((resolve, reject) => this.#order({ draft, accept, resolve, reject }))
  }

  publishChange (channel: string, frame: string): Promise<number> {
    const draft: Draft = { id: '', channel, sender: '', content: '', createdAt: new Date(0) }
    return new Promise((resolve, reject) => this.#order({
      draft,
      change: frame,
      accept: () => {},
      resolve: ({ message }) => resolve(message.seq),
      reject
    }))
  }

  /**
   * Settles the call with its seq, or with the JSON of the earlier message that had its clientId,
   * without disturbing the other calls of its batch.
   */
  #answer (call: PendingPublish, reply: number | string): void {
    try {
      call.resolve(typeof reply === 'number' ? this.#ordered(call, reply) : { message: parseMessage(reply), duplicate: true })
    } catch (error) {
      call.reject(error)
    }
  }

  #ordered (call: PendingPublish, seq: number): Published {
    const message = withSeq(call.draft, seq)
    call.accept(message)
    // Without a subscription, it would not come back to this instance's clients.
    if (this.#options.subscriber.status !== 'ready') this.#deliverHere(call, message)
    return { message, duplicate: false }
  }

  /** Delivers an ordered call to this instance's clients only, framed as the ordering script frames it. */
  #deliverHere (call: PendingPublish, message: ChatMessage): void {
    if (call.change === undefined) deliverLocally(this.#options.hub, message)
    else this.#options.hub.broadcast(message.channel, message.seq, textFrameOf(call.change))
  }

  /** Redis could not order the calls: this instance orders and delivers them itself. */
  #fallBack (calls: readonly PendingPublish[], error: unknown): void {
    this.#warnings.warn(error, 'ordering a message through Redis failed; this instance orders and delivers it locally, other instances do not get it live')
    for (const call of calls) {
      try {
        const { draft } = call
        const message = withSeq(draft, this.#fallback.next(draft.channel, this.#newestSeen.get(draft.channel)).seq)
        call.accept(message)
        this.#deliverHere(call, message)
        call.resolve({ message, duplicate: false })
      } catch (error) {
        call.reject(error)
      }
    }
  }

  /**
   * Hands each message of the call its part of the script's reply: per channel, the first new
   * seq, the number of resends, then (index from 1, earlier JSON) for each resend. A channel's
   * new messages have consecutive seqs.
   */
  #settle (batches: ReadonlyArray<readonly PendingPublish[]>, replies: ReadonlyArray<number | string>): void {
    let at = 0
    for (const calls of batches) {
      let seq = Number(replies[at])
      const resendCount = Number(replies[at + 1])
      at += 2
      let resends: Map<number, string> | undefined
      if (resendCount > 0) {
        resends = new Map()
        for (let resend = 0; resend < resendCount; resend++, at += 2) resends.set(Number(replies[at]) - 1, String(replies[at + 1]))
      }
      calls.forEach((call, index) => this.#answer(call, resends?.get(index) ?? seq++))
      if (resendCount < calls.length) this.#remember(calls[0]!.draft.channel, seq - 1)
    }
  }

  /**
   * Orders the message at the end of the turn: one ordering script call for all of the turn's
   * messages (one per channel on a cluster, so that each call stays within one slot), each
   * channel's in call order. So a burst costs one command, and a pub/sub message per channel, not
   * per message, here and on every instance that receives it.
   */
  #order (call: PendingPublish): void {
    let calls = this.#pending.get(call.draft.channel)
    if (calls === undefined) {
      if (this.#pending.size === 0) setImmediate(() => this.#sendPending())
      this.#pending.set(call.draft.channel, calls = [])
    }
    calls.push(call)
  }

  #sendPending (): void {
    const pending = this.#pending
    this.#pending = new Map()
    let publisher: RedisClient
    try {
      publisher = ready(this.#options.publisher)
    } catch (error) {
      for (const calls of pending.values()) this.#fallBack(calls, error)
      return
    }
    // A cluster call must stay within one slot: one call per channel (its keys share a slot).
    const groups = this.#options.sharded ? [...pending].map((entry) => [entry]) : [[...pending]]
    for (const channels of groups) {
      const batches = channels.map(([, calls]) => calls)
      publisher.chatPublish(...this.#scriptArguments(channels)).then(
        (replies) => this.#settle(batches, replies),
        (error: unknown) => { for (const calls of batches) this.#fallBack(calls, error) })
    }
  }

  /** numberOfKeys, KEYS and ARGV of the ordering script for the turn's messages of these channels. */
  #scriptArguments (channels: ReadonlyArray<[string, readonly PendingPublish[]]>): [number, string[], string[]] {
    const keys: string[] = []
    const argv = [String(SEQUENCE_TTL_MS), String(CLIENT_ID_TTL_MS)]
    for (const [channel, calls] of channels) {
      keys.push(sequenceKey(channel))
      let flags = ''
      let messages = ''
      for (const { draft, change } of calls) {
        if (change !== undefined) {
          flags += '2'
          messages += change + '\n'
        } else if (draft.clientId === undefined) {
          flags += '0'
          messages += jsonBeforeSeq(draft) + '\n'
        } else {
          flags += '1'
          messages += jsonBeforeSeq(draft) + '\n' + jsonAfterSeq(draft) + '\n'
          keys.push(clientIdKey(channel, draft.sender, draft.clientId))
        }
      }
      argv.push(messagesChannel(channel), String(this.#fallback.current(channel)?.seq ?? 0), flags, messages)
    }
    return [keys.length, keys, argv]
  }

  live (channel: string): Promise<void> {
    const subscription = this.#subscriptions.get(channel)
    if (subscription === undefined) return Promise.resolve()
    const subscribed = subscription.then(() => {}, () => {})
    if (this.#options.subscriber.status === 'ready') return subscribed
    // Starting: the subscription goes out once the first connection is ready (a socket that opened
    // before, with its ready check in flight, missed the first messages). Redis away: at once.
    return this.#firstConnection ? within(subscribed, FIRST_CONNECTION_WAIT_MS, undefined) : Promise.resolve()
  }

  hold (channel: string): ChannelHold {
    this.#holds.set(channel, (this.#holds.get(channel) ?? 0) + 1)
    this.#subscribe(channel)
    let held = true
    return {
      live: this.live(channel),
      release: () => {
        if (!held) return
        held = false
        const holds = this.#holds.get(channel)! - 1
        if (holds > 0) this.#holds.set(channel, holds)
        else {
          this.#holds.delete(channel)
          if (this.#options.hub.count(channel) === 0) this.#unsubscribe(channel)
        }
      }
    }
  }

  async frontier (channel: string): Promise<Position | undefined> {
    const [seq, epoch] = await this.#options.publisher.hmget(sequenceKey(channel), 's', 'e')
    const fallback = this.#fallback.current(channel)
    if (seq === null || epoch === null) return fallback
    const position = { seq: Number(seq), epoch: Number(epoch) }
    return fallback !== undefined && fallback.seq > position.seq ? fallback : position
  }

  status (): FanoutStatus {
    return this.#options.isUp() ? 'up' : 'down'
  }

  /**
   * The first seq and a newline, then WebSocket frames of consecutive seqs, as the ordering script
   * publishes them: the frames go to each socket together, as one slice of the payload (written
   * as it is when it is all the socket gets in its turn), not a copy per frame.
   */
  #receive (redisChannel: Buffer, payload: Buffer): void {
    const channel = channelOf(redisChannel.toString('utf8'))
    const newline = payload.indexOf(0x0a)
    if (newline <= 0) return
    const seq = Number(payload.toString('latin1', 0, newline))
    const frames = payload.subarray(newline + 1)
    const count = frameCount(frames)
    this.#options.hub.broadcast(channel, seq, frames, count)
    this.#remember(channel, seq + count - 1)
  }

  #subscribe (channel: string): void {
    if (this.#subscriptions.has(channel)) return
    const { subscriber, sharded } = this.#options
    const name = messagesChannel(channel)
    const subscription = sharded ? subscriber.ssubscribe(name) : subscriber.subscribe(name)
    this.#subscriptions.set(channel, subscription)
    this.#follow(subscription, 'subscribe')
  }

  #unsubscribe (channel: string): void {
    const { subscriber, sharded } = this.#options
    this.#subscriptions.delete(channel)
    const name = messagesChannel(channel)
    this.#follow(sharded ? subscriber.sunsubscribe(name) : subscriber.unsubscribe(name), 'unsubscribe')
  }

  /** The newest seq of each recently active channel: where local ordering starts if Redis goes away. */
  #remember (channel: string, seq: number): void {
    if (this.#newestSeen.size >= REMEMBERED_CHANNELS && !this.#newestSeen.has(channel)) this.#newestSeen.clear()
    this.#newestSeen.set(channel, seq)
  }

  #follow (command: Promise<unknown>, what: string): void {
    command.catch((error: unknown) => this.#warnings.warn(error, `Redis ${what} failed; ioredis re-subscribes on reconnect`))
  }
}

function parseMessage (json: string): ChatMessage {
  const message = JSON.parse(json) as ChatMessage & { createdAt: string }
  return { ...message, createdAt: new Date(message.createdAt) }
}
