import { setTimeout as sleep } from 'node:timers/promises'
import type { MemoryBudget } from '../limits/memory-budget.js'
import type { MessageReader } from '../storage/message-reader.js'
import type { Position } from '../messages/sequencer.js'
import type { Subscription } from './subscription.js'

const POLL_MS = 50

/** Seqs of the channel that exist (their epoch says so) but could not be read in time. */
export interface Gap {
  from: number
  to: number
}

export interface CatchUpOptions {
  channel: string
  /** The id of the last message the client saw. */
  since: string
  subscriber: Pick<Subscription, 'sendMissed' | 'taken' | 'goLive'>
  reader: Pick<MessageReader, 'seqOf' | 'missed'>
  /** The channel's newest position, read once live delivery to this client is in place (see Fanout.frontier). */
  frontier: Position | undefined
  pageSize: number
  /**
   * Memory shared by every catch-up: a page's worst case (`pageBytes`) is reserved before it is
   * read, what it took once sent is held until the client has taken it. A catch-up that cannot
   * reserve within `waitMs` stops with `onBusy` and the client goes live.
   */
  memory: { budget: Pick<MemoryBudget, 'reserve' | 'release'>, pageBytes: number, waitMs: number }
  /**
   * How long to wait for a message that exists but cannot be read yet: accepted by another
   * instance and still in its write queue, or waiting in a dead-letter file for the database.
   */
  settleMs: number
  onUnknownSince (): void
  onGap (gap: Gap): void
  onBusy (): void
}

/**
 * Sends a reconnecting client every message of the channel after `since` and up to the frontier,
 * and every change to a message (edit, delete) made meanwhile, page by page and in seq order,
 * then lets the live messages held meanwhile through. Within the frontier's epoch the seqs are
 * contiguous, so a missing one is known to exist: the page is read
 * again until it appears or `settleMs` passes, and then reported as a gap.
 * Resolves false when the client went away or was dropped for not reading.
 */
export async function catchUp (options: CatchUpOptions): Promise<boolean> {
  const { channel, subscriber, reader, frontier, pageSize, settleMs } = options
  const { budget, pageBytes, waitMs } = options.memory
  const since = await settled(() => reader.seqOf(channel, options.since), (seq) => seq !== undefined, settleMs)
  if (since === undefined) {
    options.onUnknownSince()
    subscriber.goLive(0)
    return true
  }
  const until = frontier?.seq ?? since
  const epoch = frontier?.epoch ?? Number.POSITIVE_INFINITY
  let sent = since
  let cursor = since
  /** Bytes of this catch-up's budget: reserved for a page, then held by what the client has not taken. */
  let held = 0
  try {
    while (cursor < until) {
      if (!await subscriber.taken()) return false
      budget.release(held)
      held = 0
      if (!await budget.reserve(pageBytes, waitMs)) {
        options.onBusy()
        break
      }
      held = pageBytes
      const after = cursor
      const page = await settled(
        () => reader.missed(channel, after, pageSize, until),
        (messages) => firstGap(messages, after, until, epoch, pageSize) === undefined,
        settleMs
      )
      const gap = firstGap(page, after, until, epoch, pageSize)
      if (gap !== undefined) options.onGap(gap)
      const bytes = subscriber.sendMissed(page)
      if (bytes === undefined) return false
      // The estimate holds unless a sender id is unusually long; the budget never goes below zero.
      const kept = Math.min(bytes, held)
      budget.release(held - kept)
      held = kept
      if (page.length > 0) sent = page[page.length - 1]!.seq
      cursor = page.length < pageSize ? until : sent
    }
    subscriber.goLive(sent)
    return true
  } finally {
    // The last page stays reserved until the client has taken it (or is gone).
    const last = held
    if (last > 0) void subscriber.taken().then(() => budget.release(last), () => budget.release(last))
  }
}

/** The first run of seqs of the epoch missing from a page (messages and changes) read after `after`, if any. */
export function firstGap (
  page: ReadonlyArray<{ seq: number }>,
  after: number,
  until: number,
  epoch: number,
  pageSize: number
): Gap | undefined {
  let previous = after
  for (const message of page) {
    const from = Math.max(previous + 1, epoch)
    if (from < message.seq) return { from, to: message.seq - 1 }
    previous = message.seq
  }
  const from = Math.max(previous + 1, epoch)
  return page.length < pageSize && from <= until ? { from, to: until } : undefined
}

/** Reads until the value is good or the time is up; returns the last value read. */
async function settled<T> (read: () => Promise<T>, good: (value: T) => boolean, withinMs: number): Promise<T> {
  const deadline = Date.now() + withinMs
  let value = await read()
  while (!good(value) && Date.now() < deadline) {
    await sleep(POLL_MS)
    value = await read()
  }
  return value
}
