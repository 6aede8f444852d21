// Request and response schemas shared by REST routes and WebSocket frames. Their descriptions
// and examples also make the OpenAPI document (plugins/docs.ts).
import { Type, type Static } from 'typebox'
import { CHANNEL_ID_PATTERN } from './channel.js'
import type { ErrorBody } from './errors.js'

export const MAX_CONTENT_LENGTH = 4096
/**
 * The largest legal send, however JSON escapes it, fits: 4096 code points beyond U+FFFF written
 * as escaped surrogate pairs (\ud83d\ude00, 12 bytes each: 49,152 bytes; \u0000 takes 6, and the
 * same emoji unescaped 4 as UTF-8), a 64-character clientId and the braces: 49,244 bytes.
 * Bodies and frames above this are refused.
 */
export const MESSAGE_BODY_LIMIT = 64 * 1024
/**
 * What one message takes as JSON, at most: its content escaped at worst (4096 control characters
 * as \u0000, the only escapes JSON.stringify writes besides \" and \\), plus its other fields.
 */
export const MAX_MESSAGE_JSON_BYTES = 32 * 1024
/** WebSocket frames are refused with an error frame up to this size, and close the socket (1009) beyond it. */
export const WS_MAX_PAYLOAD = 1024 * 1024
export const HISTORY_DEFAULT_LIMIT = 50
export const HISTORY_MAX_LIMIT = 200

const EXAMPLE_ID = '6b06ec9c9ca8c2fad139f951'

export const ChannelId = Type.String({
  pattern: CHANNEL_ID_PATTERN,
  description: 'A user id or a group id: 1 to 100 characters, a letter, digit or _ first, then letters, digits or _ . : @ + = | -',
  examples: ['group1']
})
export const MESSAGE_ID_PATTERN = '^[0-9a-f]{24}$'
export const MessageId = Type.String({ pattern: MESSAGE_ID_PATTERN, description: 'A message id: an ObjectId as 24 lowercase hex characters', examples: [EXAMPLE_ID] })

/** The sender's own id for a message: a resend with the same one is recognised and not stored or broadcast again. */
export const CLIENT_ID_PATTERN = '^[A-Za-z0-9._:-]{1,64}$'
export const ClientId = Type.String({ pattern: CLIENT_ID_PATTERN })

/** What a client sends, over REST or as a WebSocket frame. Unknown fields are ignored. */
export const SendMessageBody = Type.Object({
  content: Type.String({ minLength: 1, maxLength: MAX_CONTENT_LENGTH, pattern: '\\S', description: '1 to 4096 characters (Unicode code points, well-formed: no lone surrogates), not all whitespace' }),
  clientId: Type.Optional(ClientId)
}, { description: 'A message to send. Other fields (sender, id) are ignored: the sender is the token\'s id. With a clientId, a resend of the same message is recognised (see the README).', examples: [{ content: 'hello group', clientId: '7f3c1e2a-0b9d' }] })
export type SendMessageBody = Static<typeof SendMessageBody>

export const Message = Type.Object({
  id: MessageId,
  channel: Type.String({ examples: ['group1'] }),
  sender: Type.String({ description: 'The `id` claim of the sender\'s token', examples: ['user123'] }),
  content: Type.String({ examples: ['hello group'] }),
  // A Date in handlers, an ISO 8601 string on the wire.
  createdAt: Type.Unsafe<Date>({ type: 'string', format: 'date-time', description: 'When the service accepted the message', examples: ['2026-11-25T14:11:40.424Z'] }),
  seq: Type.Integer({ minimum: 0, description: 'The message\'s place in its channel: every instance delivers, pages and catches up in seq order', examples: [1795630857261000] }),
  clientId: Type.Optional(Type.String({ description: 'The sender\'s own id for the message, when it gave one', examples: ['7f3c1e2a-0b9d'] })),
  editedAt: Type.Optional(Type.Unsafe<Date>({ type: 'string', format: 'date-time', description: 'When the sender last edited it', examples: ['2026-11-25T14:12:02.100Z'] })),
  deletedAt: Type.Optional(Type.Unsafe<Date>({ type: 'string', format: 'date-time', description: 'When it was deleted: a tombstone, its `content` ""', examples: ['2026-11-25T14:13:40.000Z'] }))
}, {
  description: 'A message, as REST answers it and WebSocket frames carry it',
  examples: [{ id: EXAMPLE_ID, channel: 'group1', sender: 'user123', content: 'hello group', createdAt: '2026-11-25T14:11:40.424Z', seq: 1795630857261000 }]
})

/** What a WebSocket frame `{"read": ...}` holds: the message its user has read up to. */
export const ReadFrame = Type.Object({ channel: ChannelId, id: MessageId })
export type ReadFrame = Static<typeof ReadFrame>

/** A change of a message's content: the content rules of a send. */
export const EditMessageBody = Type.Object({
  content: SendMessageBody.properties.content
}, { description: 'The new content. Other fields are ignored.', examples: [{ content: 'hello group, edited' }] })
export type EditMessageBody = Static<typeof EditMessageBody>

/** The one error shape of every 4xx/5xx answer: a shared schema, referenced by each route's error statuses. */
export const ErrorResponse = Type.Object({
  statusCode: Type.Integer({ examples: [403] }),
  code: Type.String({ description: 'A stable code: CHAT_* from the service, FST_ERR_* from Fastify (see the README)', examples: ['CHAT_FORBIDDEN'] }),
  error: Type.String({ description: 'The HTTP reason phrase', examples: ['Forbidden'] }),
  message: Type.String({ description: 'What went wrong, for people', examples: ['No access to channel other'] })
}, {
  $id: 'ChatError',
  description: 'Every 4xx/5xx answer of the service; WebSocket error frames carry it under "error"',
  examples: [{ statusCode: 403, code: 'CHAT_FORBIDDEN', error: 'Forbidden', message: 'No access to channel other' }]
})

/** An error status of a route, in the shared shape; the description says when the route answers it. */
export function errorResponse (description: string) {
  return Type.Unsafe<ErrorBody>({ $ref: 'ChatError', description })
}

/** Error statuses that several routes answer alike. */
export const Unauthorized = errorResponse('No token, or an invalid one: not HS256 with the service\'s secret, expired, or without valid `id` and `groups` claims (CHAT_UNAUTHORIZED)')
export const ChannelIdTooLong = errorResponse('Channel id longer than 100 characters (FST_ERR_MAX_PARAM_LENGTH)')

/** An error status with Retry-After (429, 503): the client should try again after that many seconds. */
export function retryLaterResponse (description: string) {
  return Type.Unsafe<ErrorBody>({
    $ref: 'ChatError',
    description,
    // `example`, not `examples`: OpenAPI 3.0 header schemas take only the former.
    headers: { 'retry-after': Type.String({ description: 'Seconds to wait before trying again', example: '5' }) }
  })
}

/** 503 with Retry-After: the client should try again later. */
export function unavailableResponse (when: string) {
  return retryLaterResponse(`${when} (CHAT_UNAVAILABLE)`)
}
