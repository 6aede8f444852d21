import type { Presence } from './presence.js'

/** A subscription that asked for presence frames (a socket, in practice). */
export interface PresenceListener {
  send (text: string): void
}

export interface PresenceListenersOptions {
  presence: Presence
  /** Users listed in the `presence` frame at most. */
  snapshotSize: number
  /** Above this many present users a channel's listeners get no `join` and `leave` frames. */
  maxUsers: number
  onError (error: unknown): void
}

/**
 * The subscriptions that opted in to presence frames, per channel. A listener first gets
 * `{"presence": {"channel", "users"}}` (the first users, sorted), then `{"join": {"channel", "user"}}`
 * and `{"leave": {"channel", "user"}}` as users come and go anywhere. Changes heard while the
 * first frame is being read wait for it, so none is lost in between. A channel with more than
 * `maxUsers` present users sends no join and leave frames until it has fewer again: its total
 * is the last `presence` read, moved by each change heard since.
 */
export class PresenceListeners {
  readonly #options: PresenceListenersOptions
  /** Per channel, each listener and the frames it waits to get after its first one (undefined once it got it). */
  readonly #channels = new Map<string, Map<PresenceListener, string[] | undefined>>()
  readonly #totals = new Map<string, number>()

  constructor (options: PresenceListenersOptions) {
    this.#options = options
  }

  listen (channel: string, listener: PresenceListener): void {
    let listeners = this.#channels.get(channel)
    if (listeners === undefined) this.#channels.set(channel, listeners = new Map())
    listeners.set(listener, [])
    const { presence, snapshotSize, onError } = this.#options
    presence.users(channel, snapshotSize).then(({ total, users }) => {
      const waiting = this.#channels.get(channel)?.get(listener)
      if (waiting === undefined) return
      this.#totals.set(channel, total)
      listeners.set(listener, undefined)
      listener.send(JSON.stringify({ presence: { channel, users } }))
      for (const frame of waiting) listener.send(frame)
    }).catch(onError)
  }

  unlisten (channel: string, listener: PresenceListener): void {
    const listeners = this.#channels.get(channel)
    if (listeners === undefined || !listeners.delete(listener) || listeners.size > 0) return
    this.#channels.delete(channel)
    this.#totals.delete(channel)
  }

  joined (channel: string, user: string): void {
    this.#changed(channel, 1, JSON.stringify({ join: { channel, user } }))
  }

  left (channel: string, user: string): void {
    this.#changed(channel, -1, JSON.stringify({ leave: { channel, user } }))
  }

  #changed (channel: string, change: number, frame: string): void {
    const listeners = this.#channels.get(channel)
    if (listeners === undefined) return
    const total = Math.max((this.#totals.get(channel) ?? 0) + change, 0)
    this.#totals.set(channel, total)
    if (total > this.#options.maxUsers) return
    for (const [listener, waiting] of listeners) {
      if (waiting === undefined) listener.send(frame)
      else waiting.push(frame)
    }
  }
}
