// The service's Prometheus metrics (prom-client): what is counted, and where it is registered.
// plugins/metrics.ts picks the registry; the transports and plugins call the small methods.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client'
import type { MessageDocument } from '../messages/message.js'

export type Transport = 'rest' | 'ws'

/** Stable label values of `chat_messages_refused_total`. */
export const REFUSAL_REASONS = ['invalid', 'unauthorized', 'forbidden', 'rate_limited', 'queue_full', 'shutting_down'] as const
export type RefusalReason = typeof REFUSAL_REASONS[number]

/** The statuses a transport refuses a message with before it reaches `send`, by reason. */
const reasonOfStatus: Partial<Record<number, RefusalReason>> = {
  400: 'invalid', 413: 'invalid', 415: 'invalid', 401: 'unauthorized', 403: 'forbidden', 429: 'rate_limited'
}

/** Batch writes take milliseconds; a database that stalls shows up in the top buckets (the socket timeout is 20 s). */
const BATCH_SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20]

/** A batch insert; it may answer with the documents it did not store because they were resends (see MessageStore.insertBatch). */
type Insert<Result> = (batch: MessageDocument[]) => Promise<Result>

/**
 * What the service counts. Calls on the message path only add to plain numbers; prom-client
 * reads them when /metrics is scraped, so the hot path never pays for labels or registries.
 */
export interface ChatMetrics {
  readonly contentType: string
  accepted (transport: Transport): void
  /**
   * A message refused for this reason. For refusals that no transport answers as an error;
   * a rate limiter that throws a 429 on the message path is counted by `refusedWith`.
   */
  refused (reason: RefusalReason): void
  /**
   * A message a transport refused with this error: 400, 413 and 415 are `invalid`; 401, 403 and
   * 429 are `unauthorized`, `forbidden` and `rate_limited`; an error that names its `refusal`
   * (the intake's 503s: `queue_full`, `shutting_down`) is counted by that.
   */
  refusedWith (error: unknown): void
  /** One broadcast written to this many local sockets. */
  delivered (recipients: number): void
  /** Wraps the writer's batch insert: times every attempt and counts the messages stored. */
  timedWrites<Result> (insert: Insert<Result>): Insert<Result>
  deadLettered (count: number): void
  replayed (count: number): void
  /** A message edited by its sender. */
  edited (): void
  /** A message deleted (a second delete of it is not counted). */
  deleted (): void
  /** A read marker moved forward: marked read over REST or WebSocket, or by its user's own message. */
  markerMoved (count?: number): void
  /** Gauges read when scraped, from their owners. */
  watchQueueDepth (read: () => number): void
  watchConnections (read: () => number): void
  watchSubscriptions (read: () => number): void
  /** The heartbeat cut off a WebSocket that answered nothing. */
  heartbeatTimedOut (): void
  watchRedis (isUp: () => boolean): void
  watchPresence (read: () => number): void
  typingRelayed (): void
  typingDropped (): void
  /** The Prometheus text exposition. */
  scrape (): Promise<string>
  /** Takes the service's metrics out of a registry it shares with a host. */
  unregister (): void
}

/** METRICS=false without a host registry: nothing is counted, nothing is kept. */
export const disabledMetrics: ChatMetrics = {
  contentType: Registry.PROMETHEUS_CONTENT_TYPE,
  accepted () {},
  refused () {},
  refusedWith () {},
  delivered () {},
  timedWrites: (insert) => insert,
  deadLettered () {},
  replayed () {},
  edited () {},
  deleted () {},
  markerMoved () {},
  watchQueueDepth () {},
  watchConnections () {},
  watchSubscriptions () {},
  heartbeatTimedOut () {},
  watchRedis () {},
  watchPresence () {},
  typingRelayed () {},
  typingDropped () {},
  scrape: async () => '',
  unregister () {}
}

/**
 * Default metrics that list every handle, request or resource of the process at each scrape:
 * with thousands of sockets that is most of a scrape's cost, and chat_websocket_connections
 * already counts the sockets.
 */
const PER_HANDLE_METRICS = [
  'nodejs_active_handles', 'nodejs_active_handles_total', 'nodejs_active_requests',
  'nodejs_active_requests_total', 'nodejs_active_resources', 'nodejs_active_resources_total'
]

let processRegistry: Registry | undefined

/**
 * prom-client's process and Node.js metrics, collected once per process: every chat instance of
 * the process shows the same ones, and none of them touches prom-client's global registry.
 */
function processMetrics (): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
    for (const name of PER_HANDLE_METRICS) processRegistry.removeSingleMetric(name)
  }
  return processRegistry
}

export interface PrometheusMetricsOptions {
  /** Where the chat metrics are registered: a host's registry, or the service's own. */
  registry: Registry
  /** Whether the exposition adds prom-client's process and Node.js metrics (a host's registry has its own). */
  withProcessMetrics: boolean
}

export class PrometheusMetrics implements ChatMetrics {
  readonly contentType: string
  readonly #registry: Registry
  readonly #withProcessMetrics: boolean
  readonly #batchSeconds: Histogram
  readonly #owned: Metric[] = []
  readonly #accepted: Record<Transport, number> = { rest: 0, ws: 0 }
  readonly #refused = Object.fromEntries(REFUSAL_REASONS.map((reason) => [reason, 0])) as Record<RefusalReason, number>
  #deliveries = 0
  #typingRelayed = 0
  #typingDropped = 0
  #stored = 0
  #deadLettered = 0
  #replayed = 0
  #edited = 0
  #deleted = 0
  #markersMoved = 0
  #queueDepth = (): number => 0
  #connections = (): number => 0
  #subscriptions = (): number => 0
  #heartbeatTimeouts = 0
  #presentUsers = (): number => 0

  constructor (options: PrometheusMetricsOptions) {
    const registry = this.#registry = options.registry
    this.contentType = registry.contentType
    try {
      this.#counter('chat_messages_accepted_total', 'Messages accepted (queued for storage and broadcast), by transport.', 'transport', () => this.#accepted)
      this.#counter('chat_messages_refused_total', 'Messages refused, by reason.', 'reason', () => this.#refused)
      this.#counter('chat_messages_stored_total', 'Accepted messages the background writer stored in MongoDB.', undefined, () => this.#stored)
      this.#counter('chat_messages_dead_lettered_total', 'Messages written to the dead-letter file (retries exhausted, or unwritten at shutdown).', undefined, () => this.#deadLettered)
      this.#counter('chat_messages_replayed_total', 'Messages stored in MongoDB from the dead-letter file.', undefined, () => this.#replayed)
      this.#counter('chat_messages_edited_total', 'Messages edited by their senders.', undefined, () => this.#edited)
      this.#counter('chat_messages_deleted_total', 'Messages deleted (left as tombstones) by their senders or moderators.', undefined, () => this.#deleted)
      this.#counter('chat_read_markers_total', 'Read markers moved forward: marked read over REST or WebSocket, or by the user\'s own message.', undefined, () => this.#markersMoved)
      this.#counter('chat_deliveries_total', 'Messages written to local WebSockets: one per message per socket.', undefined, () => this.#deliveries)
      this.#counter('chat_typing_relayed_total', 'Typing notices from this instance\'s clients relayed to the channel (on every instance).', undefined, () => this.#typingRelayed)
      this.#counter('chat_typing_dropped_total', 'Typing notices dropped: more than one per user and channel within TYPING_INTERVAL_MS.', undefined, () => this.#typingDropped)
      this.#gauge('chat_presence_users', 'Distinct users with a socket on this instance subscribed to some channel.', () => this.#presentUsers())
      this.#gauge('chat_websocket_connections', 'Open WebSocket connections of this instance.', () => this.#connections())
      this.#gauge('chat_websocket_subscriptions', 'Channel subscriptions of this instance\'s WebSockets (a socket counts once per channel).', () => this.#subscriptions())
      this.#counter('chat_websocket_heartbeat_timeouts_total', 'WebSockets cut off because nothing arrived from them for WS_PING_INTERVAL_MS + WS_PONG_TIMEOUT_MS.', undefined, () => this.#heartbeatTimeouts)
      this.#gauge('chat_write_queue_depth', 'Accepted messages not yet stored.', () => this.#queueDepth())
      this.#batchSeconds = this.#own(new Histogram({
        name: 'chat_write_batch_duration_seconds',
        help: 'Duration of each MongoDB batch write attempt of the background writer, failed ones included.',
        buckets: BATCH_SECONDS_BUCKETS,
        registers: [registry]
      }))
    } catch (error) {
      this.unregister()
      throw new Error(`Cannot register the chat metrics: ${(error as Error).message}. Each chat instance needs a registry of its own.`)
    }
    this.#withProcessMetrics = options.withProcessMetrics
  }

  accepted (transport: Transport): void {
    this.#accepted[transport]++
  }

  refused (reason: RefusalReason): void {
    this.#refused[reason]++
  }

  refusedWith (error: unknown): void {
    const { refusal, statusCode } = (error ?? {}) as { refusal?: RefusalReason, statusCode?: number }
    const reason = refusal ?? reasonOfStatus[statusCode ?? 0]
    if (reason !== undefined) this.#refused[reason]++
  }

  delivered (recipients: number): void {
    this.#deliveries += recipients
  }

  timedWrites<Result> (insert: Insert<Result>): Insert<Result> {
    return async (batch) => {
      const done = this.#batchSeconds.startTimer()
      let result: Result
      try {
        result = await insert(batch)
      } finally {
        done()
      }
      this.#stored += batch.length - (result instanceof Map ? result.size : 0)
      return result
    }
  }

  deadLettered (count: number): void {
    this.#deadLettered += count
  }

  replayed (count: number): void {
    this.#replayed += count
  }

  edited (): void {
    this.#edited++
  }

  deleted (): void {
    this.#deleted++
  }

  markerMoved (count = 1): void {
    this.#markersMoved += count
  }

  watchQueueDepth (read: () => number): void {
    this.#queueDepth = read
  }

  watchConnections (read: () => number): void {
    this.#connections = read
  }

  watchSubscriptions (read: () => number): void {
    this.#subscriptions = read
  }

  heartbeatTimedOut (): void {
    this.#heartbeatTimeouts++
  }

  watchRedis (isUp: () => boolean): void {
    this.#gauge('chat_redis_up', '1 while both Redis connections (publish and subscribe) are ready (on a Redis Cluster: and every shard answers), 0 otherwise.', () => (isUp() ? 1 : 0))
  }

  watchPresence (read: () => number): void {
    this.#presentUsers = read
  }

  typingRelayed (): void {
    this.#typingRelayed++
  }

  typingDropped (): void {
    this.#typingDropped++
  }

  async scrape (): Promise<string> {
    const chat = await this.#registry.metrics()
    return this.#withProcessMetrics ? `${await processMetrics().metrics()}\n${chat}` : chat
  }

  unregister (): void {
    for (const metric of this.#owned.splice(0)) {
      const name = (metric as unknown as { name: string }).name
      if (this.#registry.getSingleMetric(name) === metric) this.#registry.removeSingleMetric(name)
    }
  }

  #own<T extends Metric> (metric: T): T {
    this.#owned.push(metric)
    return metric
  }

  /** A counter kept as plain numbers here and handed to prom-client when scraped. */
  #counter (name: string, help: string, labelName: string | undefined, read: () => number | Record<string, number>): void {
    const counter: Counter = this.#own(new Counter({
      name,
      help,
      labelNames: labelName === undefined ? [] : [labelName],
      registers: [this.#registry],
      collect () {
        const values = read()
        counter.reset()
        if (typeof values === 'number') counter.inc(values)
        else for (const [label, value] of Object.entries(values)) counter.inc({ [labelName!]: label }, value)
      }
    }))
  }

  #gauge (name: string, help: string, read: () => number): void {
    const gauge: Gauge = this.#own(new Gauge({ name, help, registers: [this.#registry], collect () { gauge.set(read()) } }))
  }
}
