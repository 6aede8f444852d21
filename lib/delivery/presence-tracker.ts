export interface PresenceTrackerEvents {
  /** The user's first socket on this instance subscribed to the channel (and they were not about to leave). */
  arrived (channel: string, user: string): void
  /** The user has had no socket on this instance subscribed to the channel for the leave delay. */
  departed (channel: string, user: string): void
}

/**
 * The users with sockets on this instance, per channel, and the delay before one with no socket
 * left departs: a socket that comes back within it (a page reload) makes no change at all.
 */
export class PresenceTracker {
  /** Per channel, per user, the number of sockets; 0 while the user's departure waits for the delay. */
  readonly #channels = new Map<string, Map<string, number>>()
  readonly #departures = new Map<string, NodeJS.Timeout>()
  /** Per user, the channels they are present in here: for the distinct-users gauge. */
  readonly #channelsOfUser = new Map<string, number>()
  readonly #leaveDelayMs: number
  readonly #events: PresenceTrackerEvents

  constructor (leaveDelayMs: number, events: PresenceTrackerEvents) {
    this.#leaveDelayMs = leaveDelayMs
    this.#events = events
  }

  add (channel: string, user: string): void {
    let users = this.#channels.get(channel)
    if (users === undefined) this.#channels.set(channel, users = new Map())
    const sockets = users.get(user)
    users.set(user, (sockets ?? 0) + 1)
    if (sockets === 0) {
      const key = keyOf(channel, user)
      clearTimeout(this.#departures.get(key))
      this.#departures.delete(key)
    } else if (sockets === undefined) {
      this.#channelsOfUser.set(user, (this.#channelsOfUser.get(user) ?? 0) + 1)
      this.#events.arrived(channel, user)
    }
  }

  remove (channel: string, user: string): void {
    const users = this.#channels.get(channel)
    const sockets = users?.get(user)
    if (users === undefined || sockets === undefined || sockets === 0) return
    users.set(user, sockets - 1)
    if (sockets > 1) return
    const key = keyOf(channel, user)
    const depart = (): void => {
      this.#departures.delete(key)
      this.#forget(channel, user)
    }
    if (this.#leaveDelayMs === 0) depart()
    else this.#departures.set(key, setTimeout(depart, this.#leaveDelayMs).unref())
  }

  /** Whether the user is present here in the channel (about to depart included). */
  has (channel: string, user: string): boolean {
    return this.#channels.get(channel)?.has(user) === true
  }

  /** The users present here in the channel (those about to depart included). */
  users (channel: string): Iterable<string> {
    return this.#channels.get(channel)?.keys() ?? []
  }

  /** Every channel and user present here. */
  * entries (): IterableIterator<[string, string]> {
    for (const [channel, users] of this.#channels) {
      for (const user of users.keys()) yield [channel, user]
    }
  }

  get distinctUsers (): number {
    return this.#channelsOfUser.size
  }

  get size (): number {
    let size = 0
    for (const users of this.#channels.values()) size += users.size
    return size
  }

  /** Everyone departs now, without the delay and without events (a shutdown). */
  clear (): void {
    for (const timer of this.#departures.values()) clearTimeout(timer)
    this.#departures.clear()
    this.#channels.clear()
    this.#channelsOfUser.clear()
  }

  #forget (channel: string, user: string): void {
    const users = this.#channels.get(channel)
    if (users?.get(user) !== 0) return
    users.delete(user)
    if (users.size === 0) this.#channels.delete(channel)
    const channels = this.#channelsOfUser.get(user)! - 1
    if (channels > 0) this.#channelsOfUser.set(user, channels)
    else this.#channelsOfUser.delete(user)
    this.#events.departed(channel, user)
  }
}

/** Channel ids never hold a newline. */
export const keyOf = (channel: string, user: string): string => `${channel}\n${user}`
