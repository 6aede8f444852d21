import type { ObjectId } from 'mongodb'
import type { ChatMessage } from './message.js'

/** A message's removal, as clients see it: the message stays in place as a tombstone. */
export interface Deletion {
  channel: string
  id: string
  deletedAt: Date
}

/**
 * A change to a message, as the frame that tells clients of it: the edited message as history
 * shows it, or its deletion. Applying one twice changes nothing.
 */
export type ChangeFrame = { edited: ChatMessage } | { deleted: Deletion }

/**
 * A change as MongoDB stores it. It has a place (`seq`) in its channel like a message, taken
 * when it was made, so a client that catches up gets it in order among the messages.
 */
export interface ChangeDocument {
  _id: ObjectId
  channel: string
  seq: number
  frame: ChangeFrame
}

/** A change as catch-up sends it: its place, and its frame when written as JSON. */
export interface MissedChange {
  seq: number
  toJSON (): ChangeFrame
}

export function missedChange (document: ChangeDocument): MissedChange {
  const { seq, frame } = document
  return { seq, toJSON: () => frame }
}
