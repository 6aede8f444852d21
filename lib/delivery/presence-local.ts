import { firstUsers, JOIN_SIGNAL, LEAVE_SIGNAL, type Presence, type PresentUsers } from './presence.js'
import { PresenceTracker } from './presence-tracker.js'
import type { Signals } from './signals.js'

/** One instance: its own sockets are all there is. */
export class LocalPresence implements Presence {
  readonly #tracker: PresenceTracker

  constructor (options: { signals: Signals, leaveDelayMs: number }) {
    const { signals } = options
    this.#tracker = new PresenceTracker(options.leaveDelayMs, {
      arrived: (channel, user) => signals.publish(channel, JOIN_SIGNAL, user),
      departed: (channel, user) => signals.publish(channel, LEAVE_SIGNAL, user)
    })
  }

  async add (channel: string, user: string): Promise<void> {
    this.#tracker.add(channel, user)
  }

  remove (channel: string, user: string): void {
    this.#tracker.remove(channel, user)
  }

  async users (channel: string, limit: number): Promise<PresentUsers> {
    return firstUsers(this.#tracker.users(channel), limit)
  }

  get localUsers (): number {
    return this.#tracker.distinctUsers
  }

  start (): void {}

  async stop (): Promise<void> {
    this.#tracker.clear()
  }
}
