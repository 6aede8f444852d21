/** Anything that can receive a message as a ready WebSocket text frame: a local WebSocket, in practice. */
export interface Subscriber {
  /** The user id of the token that opened the socket. */
  readonly user: string
  /**
   * `frames` holds `count` frames back to back, of consecutive seqs from `seq` (a message's place
   * in its channel, in which order messages arrive).
   */
  deliver (seq: number, frames: Buffer, count: number): void
  /** Sends a ready text frame that is not a message (typing, say): no seq, never held back. */
  relay (frame: Buffer): void
  /** Closes with the code, cutting off a client that has not finished closing within graceMs (ws's own 30 s without it). */
  close (code: number, reason: string, graceMs?: number): Promise<void>
}

export interface HubEvents {
  /** The first local subscriber of a channel joined. */
  onChannelOpened?: (channel: string) => void
  /** The last local subscriber of a channel left. */
  onChannelClosed?: (channel: string) => void
  /** A subscriber joined or left. */
  onCountChanged?: () => void
}

/** Local channel membership and fan-out. The frame is serialized once by the caller, never per subscriber. */
export class Hub {
  readonly #channels = new Map<string, Set<Subscriber>>()
  readonly #delivered: (recipients: number) => void
  #events: HubEvents = {}

  /** `delivered` hears of every broadcast once, with its number of recipients (for metrics). */
  constructor (delivered: (recipients: number) => void = () => {}) {
    this.#delivered = delivered
  }

  /** Follows which channels have local subscribers (to subscribe to them elsewhere, say). */
  watch (events: HubEvents): void {
    this.#events = events
  }

  join (channel: string, subscriber: Subscriber): void {
    let subscribers = this.#channels.get(channel)
    if (subscribers === undefined) {
      subscribers = new Set()
      this.#channels.set(channel, subscribers)
      this.#events.onChannelOpened?.(channel)
    }
    subscribers.add(subscriber)
    this.#events.onCountChanged?.()
  }

  leave (channel: string, subscriber: Subscriber): void {
    const subscribers = this.#channels.get(channel)
    if (subscribers === undefined || !subscribers.delete(subscriber)) return
    if (subscribers.size === 0) {
      this.#channels.delete(channel)
      this.#events.onChannelClosed?.(channel)
    }
    this.#events.onCountChanged?.()
  }

  /**
   * Delivers the frames (`count` of them back to back, of consecutive seqs from `seq`) to every
   * local subscriber of the channel and returns how many there were.
   */
  broadcast (channel: string, seq: number, frames: Buffer, count = 1): number {
    const subscribers = this.#channels.get(channel)
    if (subscribers === undefined) return 0
    for (const subscriber of subscribers) subscriber.deliver(seq, frames, count)
    this.#delivered(subscribers.size * count)
    return subscribers.size
  }

  /**
   * Sends a ready text frame (see textFrameOf) to every local subscriber of the channel but those
   * of `exceptUser`, and returns how many got it.
   */
  relay (channel: string, frame: Buffer, exceptUser?: string): number {
    const subscribers = this.#channels.get(channel)
    if (subscribers === undefined) return 0
    let recipients = 0
    for (const subscriber of subscribers) {
      if (subscriber.user === exceptUser) continue
      subscriber.relay(frame)
      recipients++
    }
    return recipients
  }

  /** Local subscribers over all channels. */
  get size (): number {
    let size = 0
    for (const subscribers of this.#channels.values()) size += subscribers.size
    return size
  }

  count (channel: string): number {
    return this.#channels.get(channel)?.size ?? 0
  }

  /** Per-channel subscriber counts of every channel that has local subscribers. */
  counts (): Map<string, number> {
    const counts = new Map<string, number>()
    for (const [channel, subscribers] of this.#channels) counts.set(channel, subscribers.size)
    return counts
  }

  subscribers (): IterableIterator<Subscriber> {
    return new Set([...this.#channels.values()].flatMap((set) => [...set])).values()
  }
}
