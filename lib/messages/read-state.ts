import type { Authorize, Claims } from '../auth/access.js'
import { Forbidden, MessageNotFound } from '../protocol/errors.js'
import type { MarkerMove, ReadMarkers } from '../storage/read-markers.js'

/** Unread counts stop here: a channel with more answers this, so a count never reads further into its index. */
export const UNREAD_CAP = 1000

export interface ReadStateOptions {
  markers: Pick<ReadMarkers, 'advance' | 'ofChannel' | 'ofUser'>
  /**
   * The seq of the channel's message with this id; undefined when the channel has none (after
   * waiting a little for one accepted elsewhere).
   */
  seqOf (channel: string, id: string): Promise<number | undefined>
  /** The channel's messages after the seq that others than `user` sent and that are not deleted, counted up to `cap`. */
  countAfter (channel: string, afterSeq: number, user: string, cap: number): Promise<number>
  authorize: Authorize
  /** A marker moved forward (for receipts and metrics). */
  moved (move: MarkerMove): void
}

/** Read markers ("read up to this message"), who has seen what, and unread counts. */
export class ReadState {
  readonly #options: ReadStateOptions

  constructor (options: ReadStateOptions) {
    this.#options = options
  }

  /** Moves the user's marker to the message; an older message than the marker's changes nothing. */
  async markRead (claims: Claims, channel: string, id: string): Promise<void> {
    const { markers, seqOf, moved } = this.#options
    await this.#requireAccess(claims, channel)
    const seq = await seqOf(channel, id)
    if (seq === undefined) throw new MessageNotFound(id, channel)
    const move: MarkerMove = { channel, user: claims.id, seq, id }
    if (await markers.advance(move)) moved(move)
  }

  /** Every user's marker in the channel: the id of the message each has read up to. */
  async seenBy (claims: Claims, channel: string): Promise<Record<string, string>> {
    await this.#requireAccess(claims, channel)
    const markers = await this.#options.markers.ofChannel(channel)
    return Object.fromEntries(markers.map((marker) => [marker.user, marker.id]))
  }

  /**
   * Per channel of the token (its own and its groups'), the messages others sent after the
   * user's marker (from the beginning without one) that are not deleted, up to UNREAD_CAP.
   */
  async unread (claims: Claims): Promise<Record<string, number>> {
    const { markers, countAfter } = this.#options
    const channels = [...new Set([claims.id, ...claims.groups])]
    const marked = await markers.ofUser(claims.id, channels)
    const counts = await Promise.all(channels.map((channel) => countAfter(channel, marked.get(channel)?.seq ?? -1, claims.id, UNREAD_CAP)))
    return Object.fromEntries(channels.map((channel, index) => [channel, counts[index]!]))
  }

  async #requireAccess (claims: Claims, channel: string): Promise<void> {
    if (!await this.#options.authorize(claims, channel)) throw new Forbidden(channel)
  }
}
