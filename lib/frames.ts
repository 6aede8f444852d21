import { Value } from 'typebox/value'
import { InvalidMessage, type ErrorBody } from './errors.js'
import { SendMessageBody } from './schemas.js'

/** Reads the content of a client's WebSocket frame, or throws InvalidMessage saying what is wrong. */
export function readContentFrame (data: Buffer, isBinary: boolean): string {
  if (isBinary) throw new InvalidMessage('frames must be text, holding JSON like {"content":"..."}')
  let frame: unknown
  try {
    frame = JSON.parse(data.toString('utf8'))
  } catch {
    throw new InvalidMessage('frame is not valid JSON')
  }
  if (!Value.Check(SendMessageBody, frame)) {
    const [first] = Value.Errors(SendMessageBody, frame)
    throw new InvalidMessage(`content ${first?.message ?? 'is invalid'}`)
  }
  return frame.content
}

/** The frame that tells a WebSocket client its frame was refused: the HTTP error shape under "error". */
export function errorFrame (error: ErrorBody): string {
  return JSON.stringify({ error })
}
