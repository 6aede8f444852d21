/** Who is present in a channel: distinct user ids, sorted, at most the limit asked for; `total` counts them all. */
export interface PresentUsers {
  total: number
  users: string[]
}

/** The signals (see signals.ts) by which every instance hears that a user came or went. Their body is the user id. */
export const JOIN_SIGNAL = 'join'
export const LEAVE_SIGNAL = 'leave'

/**
 * Which users are present in which channel, across every instance: a user is present while at
 * least one of their sockets, on any instance, is subscribed to the channel, and for a short
 * delay after the last one goes (a page reload does not make them leave and come back). When a
 * user becomes present or stops being present anywhere, every instance hears it once, as a
 * JOIN_SIGNAL or LEAVE_SIGNAL.
 */
export interface Presence {
  /** A socket of the user subscribed to the channel. Resolves once `users` counts them (it never rejects). */
  add (channel: string, user: string): Promise<void>
  /** A socket of the user that `add` counted unsubscribed (or closed). */
  remove (channel: string, user: string): void
  users (channel: string, limit: number): Promise<PresentUsers>
  /** Distinct users with a socket on this instance, over every channel. */
  readonly localUsers: number
  start (): void
  /** Clean shutdown: this instance's users leave at once. */
  stop (): Promise<void>
}

/** The first `limit` of the users, sorted. */
export function firstUsers (users: Iterable<string>, limit: number): PresentUsers {
  const sorted = [...users].sort()
  return { total: sorted.length, users: sorted.slice(0, limit) }
}
