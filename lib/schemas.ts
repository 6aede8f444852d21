// Request and response schemas shared by REST routes and WebSocket frames.
import { Type, type Static } from 'typebox'
import { CHANNEL_ID_PATTERN } from './channel.js'

export const MAX_CONTENT_LENGTH = 4096
export const MESSAGE_BODY_LIMIT = 16 * 1024
export const HISTORY_DEFAULT_LIMIT = 50
export const HISTORY_MAX_LIMIT = 200

export const ChannelId = Type.String({ pattern: CHANNEL_ID_PATTERN })
export const MessageId = Type.String({ pattern: '^[0-9a-f]{24}$' })

/** The sender's own id for a message: a resend with the same one is recognised and not stored or broadcast again. */
export const CLIENT_ID_PATTERN = '^[A-Za-z0-9._:-]{1,64}$'
export const ClientId = Type.String({ pattern: CLIENT_ID_PATTERN })

/** What a client sends, over REST or as a WebSocket frame. Unknown fields are ignored. */
export const SendMessageBody = Type.Object({
  content: Type.String({ minLength: 1, maxLength: MAX_CONTENT_LENGTH, pattern: '\\S' }),
  clientId: Type.Optional(ClientId)
})
export type SendMessageBody = Static<typeof SendMessageBody>

export const Message = Type.Object({
  id: MessageId,
  channel: Type.String(),
  sender: Type.String(),
  content: Type.String(),
  // A Date in handlers, an ISO 8601 string on the wire.
  createdAt: Type.Unsafe<Date>({ type: 'string', format: 'date-time' }),
  seq: Type.Integer({ minimum: 0 }),
  clientId: Type.Optional(Type.String())
})

export const ErrorResponse = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String()
})
