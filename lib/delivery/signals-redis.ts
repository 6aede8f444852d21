import { ready, type RedisClient } from './redis-connection.js'
import { SignalListeners, type SignalListener, type Signals } from './signals.js'
import { ThrottledWarnings, type WarnLogger } from '../operations/throttled-warnings.js'

/**
 * Every signal of every channel goes through this one pub/sub channel, which every instance
 * subscribes to: signals are few (typing is throttled per user, presence changes only on a
 * user's first or last socket), and a subscription per chat channel would cost more than it
 * saves. On a Redis Cluster a plain PUBLISH reaches every node, so this works there too.
 */
export const SIGNALS_CHANNEL = 'chat:signals'

/**
 * A signal on the wire: kind, channel and body separated by newlines (kinds are plain words,
 * channel ids never hold one; the body may, it comes last).
 */
export function signalPayload (channel: string, kind: string, body: string): string {
  return `${kind}\n${channel}\n${body}`
}

export interface RedisSignalsOptions {
  publisher: RedisClient
  subscriber: RedisClient
  log: WarnLogger
}

/**
 * Signals over Redis pub/sub. While Redis is unreachable a signal still reaches this instance's
 * listeners, as messages still reach local clients: other instances miss it, which for an
 * ephemeral event is the right loss.
 */
export class RedisSignals implements Signals {
  /** For other ephemeral state that goes with the signals (presence): a connection that fails fast while Redis is away. */
  readonly publisher: RedisClient
  readonly #publisher: RedisClient
  readonly #subscriber: RedisClient
  readonly #listeners = new SignalListeners()
  readonly #warnings: ThrottledWarnings

  constructor (options: RedisSignalsOptions) {
    this.publisher = this.#publisher = options.publisher
    this.#subscriber = options.subscriber
    this.#warnings = new ThrottledWarnings(options.log)
    this.#subscriber.on('message', (redisChannel: string, payload: string) => {
      if (redisChannel === SIGNALS_CHANNEL) this.#receive(payload)
    })
  }

  async start (): Promise<void> {
    await this.#subscriber.subscribe(SIGNALS_CHANNEL)
  }

  publish (channel: string, kind: string, body: string): void {
    if (this.#subscriber.status !== 'ready') {
      this.deliverLocally(channel, kind, body)
      return
    }
    try {
      ready(this.#publisher).publish(SIGNALS_CHANNEL, signalPayload(channel, kind, body)).catch((error: unknown) => {
        this.#warnings.warn(error, 'publishing a signal to Redis failed; only this instance got it')
        this.deliverLocally(channel, kind, body)
      })
    } catch (error) {
      this.#warnings.warn(error, 'publishing a signal to Redis failed; only this instance got it')
      this.deliverLocally(channel, kind, body)
    }
  }

  on (kind: string, listener: SignalListener): void {
    this.#listeners.add(kind, listener)
  }

  /** For a signal that cannot go through Redis (published by a script that failed, say). */
  deliverLocally (channel: string, kind: string, body: string): void {
    this.#listeners.emit(kind, channel, body, this.#onListenerError)
  }

  #receive (payload: string): void {
    const afterKind = payload.indexOf('\n')
    const afterChannel = payload.indexOf('\n', afterKind + 1)
    if (afterKind <= 0 || afterChannel < 0) return
    this.deliverLocally(payload.slice(afterKind + 1, afterChannel), payload.slice(0, afterKind), payload.slice(afterChannel + 1))
  }

  readonly #onListenerError = (error: unknown): void => this.#warnings.warn(error, 'a signal listener failed')
}
