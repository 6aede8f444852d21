import { Compile } from 'typebox/compile'
import { InvalidMessage, type ErrorBody } from './errors.js'
import { SendMessageBody } from './schemas.js'

// Compiled once: every frame of every socket is checked against it.
const sendMessageBody = Compile(SendMessageBody)

/** Reads the content of a client's WebSocket frame, or throws InvalidMessage saying what is wrong. */
export function readContentFrame (data: Buffer, isBinary: boolean): string {
  if (isBinary) throw new InvalidMessage('frames must be text, holding JSON like {"content":"..."}')
  let frame: unknown
  try {
    frame = JSON.parse(data.toString('utf8'))
  } catch {
    throw new InvalidMessage('frame is not valid JSON')
  }
  if (!sendMessageBody.Check(frame)) {
    const [first] = sendMessageBody.Errors(frame)
    throw new InvalidMessage(`content ${first?.message ?? 'is invalid'}`)
  }
  return frame.content
}

/** The frame that tells a WebSocket client its frame was refused: the HTTP error shape under "error". */
export function errorFrame (error: ErrorBody): string {
  return JSON.stringify({ error })
}
