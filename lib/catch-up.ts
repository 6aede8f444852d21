import { setTimeout as sleep } from 'node:timers/promises'
import type { ChatMessage } from './message.js'
import type { MessageReader } from './message-reader.js'
import type { Position } from './sequencer.js'
import type { SocketSubscriber } from './socket-subscriber.js'

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
  subscriber: Pick<SocketSubscriber, 'sendMissed' | 'goLive'>
  reader: Pick<MessageReader, 'seqOf' | 'page'>
  /** The channel's newest position, read once live delivery to this client is in place (see Fanout.frontier). */
  frontier: Position | undefined
  pageSize: number
  /**
   * How long to wait for a message that exists but cannot be read yet: accepted by another
   * instance and still in its write queue, or waiting in a dead-letter file for the database.
   */
  settleMs: number
  onUnknownSince (): void
  onGap (gap: Gap): void
}

/**
 * Sends a reconnecting client every message of the channel after `since` and up to the frontier,
 * page by page and in seq order, then lets the live messages held meanwhile through. Within the
 * frontier's epoch the seqs are contiguous, so a missing one is known to exist: the page is read
 * again until it appears or `settleMs` passes, and then reported as a gap.
 * Resolves false when the client went away or was dropped for not reading.
 */
export async function catchUp (options: CatchUpOptions): Promise<boolean> {
  const { channel, subscriber, reader, frontier, pageSize, settleMs } = options
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
  while (cursor < until) {
    const after = cursor
    const page = await settled(() => reader.page({ channel }, after, pageSize, until), (messages) => firstGap(messages, after, until, epoch, pageSize) === undefined, settleMs)
    const gap = firstGap(page, after, until, epoch, pageSize)
    if (gap !== undefined) options.onGap(gap)
    if (!await subscriber.sendMissed(page)) return false
    if (page.length > 0) sent = page[page.length - 1]!.seq
    cursor = page.length < pageSize ? until : sent
  }
  subscriber.goLive(sent)
  return true
}

/** The first run of seqs of the epoch missing from a page read after `after`, if any. */
export function firstGap (page: readonly ChatMessage[], after: number, until: number, epoch: number, pageSize: number): Gap | undefined {
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
