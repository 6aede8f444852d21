import type { Claims } from '../auth/access.js'
import { Forbidden } from '../protocol/errors.js'
import { textFrameOf } from './frame-bytes.js'
import type { Hub } from './hub.js'
import type { Signals } from './signals.js'

/** The signal (see signals.ts) that carries a typing notice to every instance; its body is the user id. */
export const TYPING_SIGNAL = 'typing'

export interface TypingOptions {
  hub: Hub
  signals: Signals
  /** At most one notice per user and channel is relayed per interval; the rest are dropped. */
  intervalMs: number
  authorize (claims: Claims, channel: string): boolean | Promise<boolean>
  relayed (): void
  dropped (): void
}

/**
 * Typing notices: `{"typing": {"channel": "g1"}}` from a client goes, through the signals, to the
 * sockets of the channel on every instance but those of its sender, as
 * `{"typing": {"channel": "g1", "user": "ann"}}`. Never stored, never counted as a message.
 *
 * The throttle holds across instances (a user may type in two tabs on two instances): each
 * instance relays at most one notice per user and channel per interval, whichever instance it
 * came from, and does not even publish one that would be dropped.
 */
export class Typing {
  readonly #options: TypingOptions
  /** When this instance last relayed a notice of each user, per channel ("channel\nuser"). */
  #lastRelayed = new Map<string, number>()
  #sweep: NodeJS.Timeout | undefined

  constructor (options: TypingOptions) {
    this.#options = options
    options.signals.on(TYPING_SIGNAL, (channel, user) => this.#relay(channel, user))
  }

  start (): void {
    this.#sweep = setInterval(() => this.#forgetOld(), Math.max(this.#options.intervalMs, 1_000)).unref()
  }

  stop (): void {
    clearInterval(this.#sweep)
  }

  /** Relays the user's notice, unless one was relayed less than the interval ago. Rejects with Forbidden without access to the channel. */
  async typed (claims: Claims, channel: string): Promise<void> {
    const { authorize, signals, relayed, dropped } = this.#options
    if (!await authorize(claims, channel)) throw new Forbidden(channel)
    if (this.#tooSoon(channel, claims.id)) {
      dropped()
      return
    }
    relayed()
    signals.publish(channel, TYPING_SIGNAL, claims.id)
  }

  #relay (channel: string, user: string): void {
    if (this.#tooSoon(channel, user)) {
      this.#options.dropped()
      return
    }
    this.#lastRelayed.set(`${channel}\n${user}`, Date.now())
    this.#options.hub.relay(channel, textFrameOf(JSON.stringify({ typing: { channel, user } })), user)
  }

  #tooSoon (channel: string, user: string): boolean {
    return Date.now() - (this.#lastRelayed.get(`${channel}\n${user}`) ?? Number.NEGATIVE_INFINITY) < this.#options.intervalMs
  }

  #forgetOld (): void {
    const since = Date.now() - this.#options.intervalMs
    const recent = new Map<string, number>()
    for (const [key, at] of this.#lastRelayed) if (at > since) recent.set(key, at)
    this.#lastRelayed = recent
  }
}
