/**
 * A message's place in its channel: `seq` grows by one per message while the channel's
 * sequencer keeps its state. When it starts afresh (first message since a restart, or after
 * its state expired), a new epoch begins at the current time in microseconds, above every seq
 * handed out before unless the clock went back or a channel sustained more than one message
 * per microsecond. So within an epoch the seqs of a channel are contiguous, and a reader that
 * knows the epoch can tell a message it has not seen yet from one that does not exist.
 */
export interface Position {
  seq: number
  /** The first seq of the current contiguous run. */
  epoch: number
}

export function nowMicros (): number {
  return Date.now() * 1000
}

/** The sequencer of a single instance, and of any instance while Redis is unreachable. */
export class LocalSequencer {
  readonly #channels = new Map<string, { position: Position, usedAt: number }>()

  /** The next position in the channel; never at or below `floor` (a seq known to be taken elsewhere). */
  next (channel: string, floor = 0): Position {
    const state = this.#channels.get(channel)
    const now = Date.now()
    if (state !== undefined && state.position.seq + 1 > floor) {
      state.position.seq++
      state.usedAt = now
      return { ...state.position }
    }
    const seq = Math.max(nowMicros(), floor + 1, (state?.position.seq ?? 0) + 1)
    this.#channels.set(channel, { position: { seq, epoch: seq }, usedAt: now })
    return { seq, epoch: seq }
  }

  /** The newest position handed out in the channel, if the sequencer still knows it. */
  current (channel: string): Position | undefined {
    const state = this.#channels.get(channel)
    return state === undefined ? undefined : { ...state.position }
  }

  /** Forgets channels without a message for `idleMs`, so memory follows active channels. */
  forgetIdle (idleMs: number): void {
    const cutoff = Date.now() - idleMs
    for (const [channel, state] of this.#channels) {
      if (state.usedAt < cutoff) this.#channels.delete(channel)
    }
  }
}
