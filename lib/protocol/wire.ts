// What travels over the WebSocket, for the server and the client module alike (client/ compiles
// this file too): close codes, the message and error shapes, and the frames' field names.

/** Close codes the service sends. */
export const CLOSE = {
  /** The service is shutting down: reconnect (to another instance) after a pause. */
  goingAway: 1001,
  /** A frame over the socket's size limit. */
  tooLarge: 1009,
  /** The missed messages could not be read. */
  internalError: 1011,
  /** The token expired: reconnect with a new one. */
  tokenExpired: 4001
} as const

export const CLOSE_REASON = {
  goingAway: 'server shutting down',
  internalError: 'could not read missed messages',
  tokenExpired: 'token expired',
  heartbeat: 'no answer to pings'
} as const

/** A message as the service sends it: REST reply, history entry and WebSocket frame alike. */
export interface WireMessage {
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
  /** The message's place in its channel. */
  seq?: number
  /** When its sender last edited it, ISO 8601. */
  editedAt?: string
  /** When it was deleted, ISO 8601: a tombstone, its content "". */
  deletedAt?: string
}

/** A read marker moved: `{"read": ReadReceipt}`. */
export interface ReadReceipt { channel: string, user: string, id: string }
/** A message was deleted: `{"deleted": Deletion}`. */
export interface Deletion { channel: string, id: string, deletedAt: string }

/** The service's one error shape, for HTTP answers and, under `error`, WebSocket error frames. */
export interface ErrorBody {
  statusCode: number
  code: string
  error: string
  message: string
  /** On an error frame: the clientId of the frame that was refused. */
  clientId?: string
  /** On an error frame: the channel a subscribe, unsubscribe or message frame named. */
  channel?: string
}

/** Frames a client sends, besides a message (`{"channel"?, "content", "clientId"?}`). */
export interface SubscribeFrame { subscribe: { channel: string, since?: string } }
export interface UnsubscribeFrame { unsubscribe: { channel: string } }
export interface PingFrame { ping: Record<string, never> }

/** Frames the service sends, besides messages, acks (`{"ack": {clientId, id}}`) and errors. */
export interface SubscribedFrame { subscribed: { channel: string } }
export interface UnsubscribedFrame { unsubscribed: { channel: string } }
export interface PongFrame { pong: Record<string, never> }
