import { Compile } from 'typebox/compile'
import { isValidChannelId } from './channel.js'
import { BodyTooLarge, InvalidChannel, InvalidFrame, InvalidMessage, type ErrorBody } from './errors.js'
import { CLIENT_ID_PATTERN, MESSAGE_BODY_LIMIT, SendMessageBody } from './schemas.js'

// Compiled once: every frame of every socket is checked against it.
const sendMessageBody = Compile(SendMessageBody)
const clientIdRegExp = new RegExp(CLIENT_ID_PATTERN)
export const CLIENT_ID_RULE = 'clientId must be 1 to 64 characters of A-Z a-z 0-9 . _ : -'

const messageIdRegExp = /^[0-9a-f]{24}$/

/**
 * An error about a frame, with the frame's clientId when it had a valid one and the channel it
 * named, so the client can match the refusal.
 */
export type FrameError = Error & { clientId?: string, channel?: string }

/** A client's frame, read and checked. */
export type ClientFrame =
  | { kind: 'message', channel: string | undefined, content: string, clientId: string | undefined }
  | { kind: 'subscribe', channel: string, since: string | undefined, presence: boolean }
  | { kind: 'unsubscribe', channel: string }
  | { kind: 'typing', channel: string }
  | { kind: 'read', channel: string, id: string }
  | { kind: 'ping' }

/** Reads a client's WebSocket frame, or throws saying what is wrong (with the frame's clientId and channel). */
export function readClientFrame (data: Buffer, isBinary: boolean): ClientFrame {
  if (isBinary) throw new InvalidMessage('frames must be text, holding JSON like {"content":"..."}')
  if (data.length > MESSAGE_BODY_LIMIT) throw new BodyTooLarge(MESSAGE_BODY_LIMIT)
  let frame: unknown
  try {
    frame = JSON.parse(data.toString('utf8'))
  } catch {
    throw new InvalidMessage('frame is not valid JSON')
  }
  if (typeof frame === 'object' && frame !== null) {
    const { subscribe, unsubscribe, typing, read, ping } = frame as Record<string, unknown>
    if (subscribe !== undefined) {
      const channel = channelOf(subscribe, 'subscribe')
      const { since, presence } = subscribe as { since?: unknown, presence?: unknown }
      if (since !== undefined && (typeof since !== 'string' || !messageIdRegExp.test(since))) {
        throw withChannel(new InvalidFrame('subscribe.since must be a message id (24 hex characters)'), channel)
      }
      if (presence !== undefined && typeof presence !== 'boolean') throw withChannel(new InvalidFrame('subscribe.presence must be true or false'), channel)
      return { kind: 'subscribe', channel, since, presence: presence === true }
    }
    if (unsubscribe !== undefined) return { kind: 'unsubscribe', channel: channelOf(unsubscribe, 'unsubscribe') }
    if (typing !== undefined) return { kind: 'typing', channel: channelOf(typing, 'typing') }
    if (read !== undefined) {
      const channel = channelOf(read, 'read')
      const { id } = read as { id?: unknown }
      if (typeof id !== 'string' || !messageIdRegExp.test(id)) throw withChannel(new InvalidFrame('read.id must be a message id (24 hex characters)'), channel)
      return { kind: 'read', channel, id }
    }
    if (ping !== undefined) return { kind: 'ping' }
  }
  const message = readSendFrame(frame)
  const channel = (frame as { channel?: unknown }).channel
  if (channel === undefined) return { kind: 'message', channel: undefined, content: message.content, clientId: message.clientId }
  if (typeof channel !== 'string' || !isValidChannelId(channel)) {
    throw withClientId(withChannel(new InvalidChannel(JSON.stringify(channel)), channel), frame)
  }
  return { kind: 'message', channel, content: message.content, clientId: message.clientId }
}

/** The channel a subscribe or unsubscribe frame names, checked. */
function channelOf (body: unknown, name: string): string {
  const channel = (body as { channel?: unknown } | null)?.channel
  if (typeof body !== 'object' || body === null || channel === undefined) {
    throw new InvalidFrame(`${name} must be an object with a channel: {"${name}": {"channel": "g1"}}`)
  }
  if (typeof channel !== 'string' || !isValidChannelId(channel)) throw withChannel(new InvalidChannel(JSON.stringify(channel)), channel)
  return channel
}

function withChannel (error: FrameError, channel: unknown): FrameError {
  if (typeof channel === 'string') error.channel = channel
  return error
}

/** Reads a message frame's body: content and clientId. */
function readSendFrame (frame: unknown): SendMessageBody {
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

/**
 * The frame that tells a WebSocket client its frame was refused: the HTTP error shape under
 * "error", with the refused frame's clientId and channel.
 */
export function errorFrame (error: ErrorBody, about: { clientId?: string, channel?: string } = {}): string {
  const { clientId, channel } = about
  if (clientId === undefined && channel === undefined) return JSON.stringify({ error })
  return JSON.stringify({
    error: { ...error, ...(clientId === undefined ? {} : { clientId }), ...(channel === undefined ? {} : { channel }) }
  })
}

/** Answers to subscribe, unsubscribe and ping frames. Channel ids never need escaping (by their pattern). */
export const subscribedFrame = (channel: string): string => `{"subscribed":{"channel":"${channel}"}}`
export const unsubscribedFrame = (channel: string): string => `{"unsubscribed":{"channel":"${channel}"}}`
export const PONG_FRAME = '{"pong":{}}'

/**
 * The frame that tells a WebSocket client which message its frame became. Neither a clientId
 * (by its pattern) nor a message id (hex) needs escaping.
 */
export function ackFrame (clientId: string, id: string): string {
  return `{"ack":{"clientId":"${clientId}","id":"${id}"}}`
}
