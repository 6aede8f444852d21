import type { Hub } from './hub.js'
import type { Signals } from './signals.js'
import { textFrameOf } from './frame-bytes.js'
import type { MarkerMove } from '../storage/read-markers.js'
import { LatestPerInterval } from '../util/latest-per-interval.js'

const SIGNAL_KIND = 'read'
/** Sockets get at most one receipt per user and channel per this: the latest. */
const RECEIPT_INTERVAL_MS = 1_000

/** The frame sockets of the channel get when a user's marker moves. */
export function receiptFrame (channel: string, user: string, id: string): string {
  return JSON.stringify({ read: { channel, user, id } })
}

/**
 * Read receipts: a moved marker goes to every instance as a signal, and each instance relays it
 * to its sockets of the channel, the reader's own included. Every instance holds back receipts
 * the same way, so no socket gets more than one per user and channel per interval, whichever
 * instances the user marked from.
 */
export class ReadReceipts {
  readonly #signals: Pick<Signals, 'publish'>
  readonly #held: LatestPerInterval<string>

  constructor (hub: Pick<Hub, 'relay'>, signals: Pick<Signals, 'publish' | 'on'>, intervalMs = RECEIPT_INTERVAL_MS) {
    this.#signals = signals
    this.#held = new LatestPerInterval(intervalMs, (key, frame) => hub.relay(key.slice(0, key.indexOf('\u0000')), textFrameOf(frame)))
    signals.on(SIGNAL_KIND, (channel, body) => {
      const { user, id } = JSON.parse(body) as { user: string, id: string }
      this.#held.offer(`${channel}\u0000${user}`, receiptFrame(channel, user, id))
    })
  }

  publish (move: MarkerMove): void {
    this.#signals.publish(move.channel, SIGNAL_KIND, JSON.stringify({ user: move.user, id: move.id }))
  }

  close (): void {
    this.#held.close()
  }
}
