/** A message as the service sends it: REST reply, history entry and WebSocket frame alike. */
export interface ChatMessage {
  /** Assigned by the service (24 hex characters); later messages of a channel have greater ids. */
  id: string
  channel: string
  /** The `id` claim of the sender's token. */
  sender: string
  content: string
  /** When the service accepted the message, ISO 8601. */
  createdAt: string
  /** The id the sending client gave the frame, when it gave one. */
  clientId?: string
  /** The message's place in its channel, from a service with reliable sends. */
  seq?: number
}

/** The service's one error shape, for HTTP answers and WebSocket error frames. */
export interface ErrorBody {
  statusCode: number
  code: string
  error: string
  message: string
  /** On an error frame: the clientId of the frame that was refused. */
  clientId?: string
}

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
  const { ack, error } = frame
  if (isRecord(ack) && typeof ack.clientId === 'string' && typeof ack.id === 'string') {
    return { kind: 'ack', clientId: ack.clientId, id: ack.id }
  }
  if (isErrorBody(error)) return { kind: 'error', error }
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
