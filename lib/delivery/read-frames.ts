import { Compile } from 'typebox/compile'
import type { Claims } from '../auth/access.js'
import type { ReadState } from '../messages/read-state.js'
import { InvalidMessage, type ErrorBody } from '../protocol/errors.js'
import { errorFrame } from '../protocol/frames.js'
import { ReadFrame } from '../protocol/schemas.js'

const readFrame = Compile(ReadFrame)

/** The socket a read frame came from. */
export interface ReadFrameContext {
  claims: Claims
  /** Sends a text frame to that socket. */
  send (text: string): void
}

/** What `{"read": ...}` holds, when the frame is JSON with a `read` field; undefined otherwise. */
export function readFrameOf (data: Buffer, isBinary: boolean): unknown {
  if (isBinary) return undefined
  try {
    const frame: unknown = JSON.parse(data.toString('utf8'))
    return typeof frame === 'object' && frame !== null && Object.hasOwn(frame, 'read') ? (frame as { read: unknown }).read : undefined
  } catch {
    return undefined
  }
}

/**
 * Handles the `read` of a frame `{"read": {"channel", "id"}}`: moves the user's marker, as
 * PUT /api/channels/:channel/read does. Nothing answers a success (the receipt is the echo);
 * a refusal answers an error frame.
 */
export function readFrameHandler (readState: Pick<ReadState, 'markRead'>, errorBody: (error: Error) => ErrorBody): (read: unknown, context: ReadFrameContext) => void {
  return (read, { claims, send }) => {
    const refuse = (error: unknown): void => send(errorFrame(errorBody(error as Error)))
    if (!readFrame.Check(read)) {
      refuse(new InvalidMessage('a read frame is {"read": {"channel": "<channel id>", "id": "<message id>"}}'))
      return
    }
    readState.markRead(claims, read.channel, read.id).catch(refuse)
  }
}
