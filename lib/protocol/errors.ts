// Every error the service answers with, by code. Fastify serializes them as
// { statusCode, code, error, message }, the one JSON shape of every 4xx/5xx.
import createError from '@fastify/error'

export const Unauthorized = createError<[string]>('CHAT_UNAUTHORIZED', 'Invalid or missing token: %s', 401)
export const Forbidden = createError<[string]>('CHAT_FORBIDDEN', 'No access to channel %s', 403)
export const OriginNotAllowed = createError<[string]>('CHAT_ORIGIN_NOT_ALLOWED', 'Origin %s is not allowed', 403)
export const InvalidMessage = createError<[string]>('CHAT_INVALID_MESSAGE', 'Invalid message: %s', 400)
export const InvalidHistoryQuery = createError<[string]>('CHAT_INVALID_HISTORY_QUERY', 'Invalid history query: %s', 400)
export const InvalidCountsRequest = createError<[string]>('CHAT_INVALID_COUNTS_REQUEST', 'Invalid counts request: %s', 400)
export const BodyTooLarge = createError<[number]>('CHAT_BODY_TOO_LARGE', 'Request body is larger than %s bytes', 413)
export const RateLimited = createError<[string]>('CHAT_RATE_LIMITED', 'Too many requests: %s', 429)
export const TooManyConnections = createError<[number]>('CHAT_TOO_MANY_CONNECTIONS', 'This user already has %s open WebSockets on this instance', 429)
export const CatchUpBusy = createError('CHAT_CATCH_UP_BUSY', 'Too many clients are catching up at once: missed messages were not sent; live messages follow; fetch the missed ones with GET /api/messages/<channel>?after=', 503)
export const UpgradeRequired = createError('CHAT_UPGRADE_REQUIRED', 'This endpoint is a WebSocket: send an Upgrade request', 426)
export const NotFound = createError<[string, string]>('CHAT_NOT_FOUND', 'Route %s %s not found', 404)
export const UnknownSince = createError<[string, string]>('CHAT_UNKNOWN_SINCE', 'since: no message %s in channel %s; live messages follow without a catch-up', 400)
export const CatchUpGap = createError<[number, number]>('CHAT_CATCH_UP_GAP', 'messages with seq %s to %s exist but could not be read yet (still being stored, or lost with an instance that crashed); fetch them later with GET /api/messages/<channel>?after=', 503)
export const InvalidChannel = createError<[string]>('CHAT_INVALID_CHANNEL', 'Invalid channel id %s: 1 to 100 characters of A-Z a-z 0-9 _ . : @ + = | -, not starting with a symbol', 400)
export const InvalidUpgrade = createError<[string]>('CHAT_INVALID_UPGRADE', 'Invalid WebSocket upgrade: %s', 400)
export const InvalidFrame = createError<[string]>('CHAT_INVALID_FRAME', 'Invalid frame: %s', 400)
export const TooManyChannels = createError<[number]>('CHAT_TOO_MANY_CHANNELS', 'This socket is already subscribed to %s channels (MAX_CHANNELS_PER_CONNECTION)', 429)
export const MessageNotFound = createError<[string, string]>('CHAT_MESSAGE_NOT_FOUND', 'No message %s in channel %s', 404)
export const NotAllowedToChange = createError<[string]>('CHAT_CHANGE_FORBIDDEN', 'Not allowed: %s', 403)
export const Unavailable = createError<[string]>('CHAT_UNAVAILABLE', 'Service unavailable: %s', 503)
/** Closing failed to store or save some accepted messages (never an HTTP answer). */
export const MessagesNotSaved = createError<[number]>('CHAT_MESSAGES_NOT_SAVED', '%s accepted messages could be neither stored nor saved to the dead-letter file', 500)

export type { ErrorBody } from './wire.js'
