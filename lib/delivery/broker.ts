import type { Hub } from './hub.js'
import { messageJson, withSeq, type ChatMessage, type Draft } from '../messages/message.js'
import type { LocalSequencer, Position } from '../messages/sequencer.js'
import { textFrameOf } from './frame-bytes.js'

export type FanoutStatus = 'single-instance' | 'up' | 'down'

export interface Published {
  message: ChatMessage
  /** True when the draft turned out to resend a message the sender already sent (same clientId). */
  duplicate: boolean
}

/** Ordering and delivery of a channel's messages across every instance. */
export interface Fanout {
  /**
   * Gives the draft its place (seq) in the channel, hands the message to `accept` (which queues it
   * for storage) and delivers it, in seq order, to the channel's clients on every instance. With
   * Redis, a draft whose sender and clientId Redis saw recently resolves to that earlier message
   * instead, and nothing is delivered.
   */
  publish (draft: Draft, accept: (message: ChatMessage) => void): Promise<Published>
  /**
   * Gives a change to a message (its frame's JSON, which does not show the change's own seq) the
   * channel's next place, as a message takes one, and delivers the frame in that order to the
   * channel's clients on every instance. Resolves with the change's seq.
   */
  publishChange (channel: string, frame: string): Promise<number>
  /** Resolves once messages of the channel published from now on reach this instance's clients. */
  live (channel: string): Promise<void>
  /**
   * Makes the channel live on this instance ahead of a client that is about to join it, so the
   * client's socket can open only once the channel's messages reach this instance. Release the
   * hold once the client has joined, or will not.
   */
  hold (channel: string): ChannelHold
  /**
   * The channel's newest position. Call it after `live`: every message after it reaches this
   * instance's clients live, and every message up to it is stored or queued somewhere.
   */
  frontier (channel: string): Promise<Position | undefined>
  status (): FanoutStatus
}

export interface ChannelHold {
  /** As `live`. */
  live: Promise<void>
  /** Idempotent. */
  release (): void
}

/** Sends a message to this instance's clients of its channel: serialized and framed once, whatever their number. */
export function deliverLocally (hub: Hub, message: ChatMessage): void {
  hub.broadcast(message.channel, message.seq, textFrameOf(messageJson(message, String(message.seq))))
}

/** One instance: the local sequencer orders each channel, and the local hub knows every client. */
export function singleInstance (hub: Hub, sequencer: LocalSequencer): Fanout {
  return {
    publish (draft, accept) {
      const message = withSeq(draft, sequencer.next(draft.channel).seq)
      accept(message)
      deliverLocally(hub, message)
      return Promise.resolve({ message, duplicate: false })
    },
    publishChange (channel, frame) {
      const { seq } = sequencer.next(channel)
      hub.broadcast(channel, seq, textFrameOf(frame))
      return Promise.resolve(seq)
    },
    live: () => Promise.resolve(),
    hold: () => ({ live: Promise.resolve(), release: () => {} }),
    frontier: (channel) => Promise.resolve(sequencer.current(channel)),
    status: () => 'single-instance'
  }
}
