import type { Deletion, ErrorBody, ReadReceipt, WireMessage } from '../lib/protocol/wire.js'

export type { Deletion, ErrorBody, ReadReceipt }
/** A message as the service sends it: REST reply, history entry and WebSocket frame alike. */
export type ChatMessage = WireMessage

/** A refusal from the service, carrying its error body. */
export class ChatError extends Error {
  readonly statusCode: number
  readonly code: string
  readonly body: ErrorBody

  constructor (body: ErrorBody) {
    super(body.message)
    this.name = 'ChatError'
    this.statusCode = body.statusCode
    this.code = body.code
    this.body = body
  }
}

export type Frame =
  | { kind: 'message', message: ChatMessage }
  | { kind: 'ack', clientId: string, id: string }
  | { kind: 'error', error: ErrorBody }
  | { kind: 'subscribed', channel: string }
  | { kind: 'unsubscribed', channel: string }
  | { kind: 'pong' }
  | { kind: 'presence', channel: string, users: string[] }
  | { kind: 'join', channel: string, user: string }
  | { kind: 'leave', channel: string, user: string }
  | { kind: 'typing', channel: string, user: string }
  | { kind: 'read', receipt: ReadReceipt }
  | { kind: 'edited', message: ChatMessage }
  | { kind: 'deleted', deletion: Deletion }
  | { kind: 'unknown' }

/** What a text frame from the service holds; anything unexpected is `unknown`, never a throw. */
export function readFrame (data: unknown): Frame {
  if (typeof data !== 'string') return { kind: 'unknown' }
  let frame: unknown
  try {
    frame = JSON.parse(data)
  } catch {
    return { kind: 'unknown' }
  }
  if (!isRecord(frame)) return { kind: 'unknown' }
  const { ack, error, subscribed, unsubscribed, pong, presence, read, edited, deleted } = frame
  if (isRecord(ack) && typeof ack.clientId === 'string' && typeof ack.id === 'string') {
    return { kind: 'ack', clientId: ack.clientId, id: ack.id }
  }
  if (isErrorBody(error)) return { kind: 'error', error }
  if (isRecord(subscribed) && typeof subscribed.channel === 'string') return { kind: 'subscribed', channel: subscribed.channel }
  if (isRecord(unsubscribed) && typeof unsubscribed.channel === 'string') return { kind: 'unsubscribed', channel: unsubscribed.channel }
  if (isRecord(pong)) return { kind: 'pong' }
  if (isRecord(presence) && typeof presence.channel === 'string' && Array.isArray(presence.users)) {
    return { kind: 'presence', channel: presence.channel, users: presence.users.filter((user): user is string => typeof user === 'string') }
  }
  if (isRecord(read) && typeof read.channel === 'string' && typeof read.user === 'string' && typeof read.id === 'string') {
    return { kind: 'read', receipt: { channel: read.channel, user: read.user, id: read.id } }
  }
  if (isMessage(edited)) return { kind: 'edited', message: edited }
  if (isRecord(deleted) && typeof deleted.channel === 'string' && typeof deleted.id === 'string' && typeof deleted.deletedAt === 'string') {
    return { kind: 'deleted', deletion: { channel: deleted.channel, id: deleted.id, deletedAt: deleted.deletedAt } }
  }
  for (const kind of ['join', 'leave', 'typing'] as const) {
    const body = frame[kind]
    if (isRecord(body) && typeof body.channel === 'string' && typeof body.user === 'string') return { kind, channel: body.channel, user: body.user } as Frame
  }
  if (isMessage(frame)) return { kind: 'message', message: frame }
  return { kind: 'unknown' }
}

export function isErrorBody (value: unknown): value is ErrorBody {
  return isRecord(value) && typeof value.statusCode === 'number' && typeof value.code === 'string' && typeof value.message === 'string'
}

export function isMessage (value: unknown): value is ChatMessage {
  return isRecord(value) && typeof value.id === 'string' && typeof value.sender === 'string' &&
    typeof value.content === 'string' && typeof value.createdAt === 'string'
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}
