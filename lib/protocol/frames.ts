import { Compile } from 'typebox/compile'
import { BodyTooLarge, InvalidMessage, type ErrorBody } from './errors.js'
import { CLIENT_ID_PATTERN, MESSAGE_BODY_LIMIT, SendMessageBody } from './schemas.js'

// Compiled once: every frame of every socket is checked against it.
const sendMessageBody = Compile(SendMessageBody)
const clientIdRegExp = new RegExp(CLIENT_ID_PATTERN)
export const CLIENT_ID_RULE = 'clientId must be 1 to 64 characters of A-Z a-z 0-9 . _ : -'

/** An error about a frame, with the frame's clientId when it had a valid one, so the client can match the refusal. */
export type FrameError = Error & { clientId?: string }

/** Reads a client's WebSocket frame, or throws InvalidMessage saying what is wrong. */
export function readSendFrame (data: Buffer, isBinary: boolean): SendMessageBody {
  if (isBinary) throw new InvalidMessage('frames must be text, holding JSON like {"content":"..."}')
  if (data.length > MESSAGE_BODY_LIMIT) throw new BodyTooLarge(MESSAGE_BODY_LIMIT)
  let frame: unknown
  try {
    frame = JSON.parse(data.toString('utf8'))
  } catch {
    throw new InvalidMessage('frame is not valid JSON')
  }
  if (!sendMessageBody.Check(frame)) {
    const [first] = sendMessageBody.Errors(frame)
    const problem = first?.instancePath === '/clientId' ? CLIENT_ID_RULE : `content ${first?.message ?? 'is invalid'}`
    throw withClientId(new InvalidMessage(problem), frame)
  }
  try {
    checkWellFormed(frame.content)
  } catch (error) {
    throw withClientId(error as FrameError, frame)
  }
  return frame
}

/**
 * Refuses content with a lone surrogate: JSON lets "\ud800" through, but MongoDB would store it
 * as U+FFFD, so the history would differ from what the sender was told was accepted.
 */
export function checkWellFormed (content: string): void {
  if (!(content as string & { isWellFormed (): boolean }).isWellFormed()) {
    throw new InvalidMessage('content is not well-formed Unicode: it has a lone surrogate (\\ud800 to \\udfff without its pair)')
  }
}

export function withClientId (error: FrameError, frame: unknown): FrameError {
  const clientId = (frame as { clientId?: unknown } | null)?.clientId
  if (typeof clientId === 'string' && clientIdRegExp.test(clientId)) error.clientId = clientId
  return error
}

/** The frame that tells a WebSocket client its frame was refused: the HTTP error shape under "error". */
export function errorFrame (error: ErrorBody, clientId?: string): string {
  return JSON.stringify({ error: clientId === undefined ? error : { ...error, clientId } })
}

/**
 * The frame that tells a WebSocket client which message its frame became. Neither a clientId
 * (by its pattern) nor a message id (hex) needs escaping.
 */
export function ackFrame (clientId: string, id: string): string {
  return `{"ack":{"clientId":"${clientId}","id":"${id}"}}`
}
