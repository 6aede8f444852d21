import type { Presence } from './presence.js'

/** A subscription that asked for presence frames (a socket, in practice). */
export interface PresenceListener {
  /** Its own user: the `presence` frame lists them, and no join or leave of theirs is sent to it. */
  readonly user: string
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

/** A join or leave heard while a listener waits for its `presence` frame. */
interface Change {
  user: string
  joined: boolean
  frame: string
}

/**
 * The subscriptions that opted in to presence frames, per channel. A listener first gets
 * `{"presence": {"channel", "users"}}` (the first users, sorted), then `{"join": {"channel", "user"}}`
 * and `{"leave": {"channel", "user"}}` as other users come and go anywhere. Changes heard while
 * the first frame is being read follow it (but a join of a user it lists), so none is lost in
 * between; one that crossed the read may repeat what the first frame says (treat it as a set).
 * A channel with more than `maxUsers` present users sends no join and leave frames until it has
 * fewer again: its total is the last `presence` read, moved by each change heard since.
 */
export class PresenceListeners {
  readonly #options: PresenceListenersOptions
  /** Per channel, each listener and the changes it waits to get after its first frame (undefined once it got it). */
  readonly #channels = new Map<string, Map<PresenceListener, Change[] | undefined>>()
  readonly #totals = new Map<string, number>()

  constructor (options: PresenceListenersOptions) {
    this.#options = options
  }

  /** Adds the listener at once; its first frame is read once `counted` (its own user's presence) resolves. */
  listen (channel: string, listener: PresenceListener, counted: Promise<void>): void {
    let listeners = this.#channels.get(channel)
    if (listeners === undefined) this.#channels.set(channel, listeners = new Map())
    listeners.set(listener, [])
    const { presence, snapshotSize, onError } = this.#options
    counted.then(() => presence.users(channel, snapshotSize)).then(({ total, users }) => {
      const waiting = this.#channels.get(channel)?.get(listener)
      if (waiting === undefined) return
      this.#totals.set(channel, total)
      listeners.set(listener, undefined)
      listener.send(JSON.stringify({ presence: { channel, users } }))
      const listed = new Set(users)
      for (const change of waiting) {
        if (change.user !== listener.user && !(change.joined && listed.has(change.user))) listener.send(change.frame)
      }
    }).catch(onError)
  }

  unlisten (channel: string, listener: PresenceListener): void {
    const listeners = this.#channels.get(channel)
    if (listeners === undefined || !listeners.delete(listener) || listeners.size > 0) return
    this.#channels.delete(channel)
    this.#totals.delete(channel)
  }

  joined (channel: string, user: string): void {
    this.#changed(channel, { user, joined: true, frame: JSON.stringify({ join: { channel, user } }) })
  }

  left (channel: string, user: string): void {
    this.#changed(channel, { user, joined: false, frame: JSON.stringify({ leave: { channel, user } }) })
  }

  #changed (channel: string, change: Change): void {
    const listeners = this.#channels.get(channel)
    if (listeners === undefined) return
    const total = Math.max((this.#totals.get(channel) ?? 0) + (change.joined ? 1 : -1), 0)
    this.#totals.set(channel, total)
    if (total > this.#options.maxUsers) return
    for (const [listener, waiting] of listeners) {
      if (waiting !== undefined) waiting.push(change)
      else if (listener.user !== change.user) listener.send(change.frame)
    }
  }
}
