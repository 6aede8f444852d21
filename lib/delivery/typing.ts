import type { Claims } from '../auth/access.js'
import { Forbidden, InvalidMessage } from '../protocol/errors.js'
import { textFrameOf } from './frame-bytes.js'
import type { Hub } from './hub.js'
import type { Signals } from './signals.js'

/** The signal (see signals.ts) that carries a typing notice to every instance; its body is the user id. */
export const TYPING_SIGNAL = 'typing'
/** Only frames that hold this are read as JSON a second time, to see whether they are typing notices. */
const TYPING_MARK = Buffer.from('"typing"')

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
 */
export class Typing {
  readonly #options: TypingOptions
  /** When each user last had a notice relayed, per channel ("channel\nuser"). */
  #lastRelayed = new Map<string, number>()
  #sweep: NodeJS.Timeout | undefined

  constructor (options: TypingOptions) {
    this.#options = options
    options.signals.on(TYPING_SIGNAL, (channel, user) => {
      options.hub.relay(channel, textFrameOf(JSON.stringify({ typing: { channel, user } })), user)
    })
  }

  start (): void {
    this.#sweep = setInterval(() => this.#forgetOld(), Math.max(this.#options.intervalMs, 1_000)).unref()
  }

  stop (): void {
    clearInterval(this.#sweep)
  }

  /**
   * The channel of a typing frame, or undefined for any other frame (a message, most often).
   * Throws InvalidMessage for a typing frame without a channel.
   */
  static channelOf (data: Buffer, isBinary: boolean): string | undefined {
    if (isBinary || data.indexOf(TYPING_MARK) < 0) return undefined
    let frame: unknown
    try {
      frame = JSON.parse(data.toString('utf8'))
    } catch {
      return undefined
    }
    if (typeof frame !== 'object' || frame === null || !('typing' in frame)) return undefined
    const channel = (frame.typing as { channel?: unknown } | null)?.channel
    if (typeof channel !== 'string' || channel.length === 0) throw new InvalidMessage('a typing frame is {"typing": {"channel": "<channel id>"}}')
    return channel
  }

  /** Relays the user's notice, unless one was relayed less than the interval ago. Rejects with Forbidden without access to the channel. */
  async typed (claims: Claims, channel: string): Promise<void> {
    const { authorize, signals, intervalMs, relayed, dropped } = this.#options
    if (!await authorize(claims, channel)) throw new Forbidden(channel)
    const key = `${channel}\n${claims.id}`
    const now = Date.now()
    if (now - (this.#lastRelayed.get(key) ?? Number.NEGATIVE_INFINITY) < intervalMs) {
      dropped()
      return
    }
    this.#lastRelayed.set(key, now)
    relayed()
    signals.publish(channel, TYPING_SIGNAL, claims.id)
  }

  #forgetOld (): void {
    const since = Date.now() - this.#options.intervalMs
    const recent = new Map<string, number>()
    for (const [key, at] of this.#lastRelayed) if (at > since) recent.set(key, at)
    this.#lastRelayed = recent
  }
}
