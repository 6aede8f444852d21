import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { historyScope } from '../lib/auth/access.js'
import { requestedChannels } from '../lib/protocol/counts-request.js'
import { InvalidHistoryQuery, InvalidMessage, Unavailable } from '../lib/protocol/errors.js'
import { readBody } from '../lib/limits/read-body.js'
import { checkWellFormed, CLIENT_ID_RULE } from '../lib/protocol/frames.js'
import {
  ChannelId, ChannelIdTooLong, CLIENT_ID_PATTERN, errorResponse, HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT, Message, MessageId,
  MESSAGE_BODY_LIMIT, retryLaterResponse, SendMessageBody, Unauthorized, unavailableResponse
} from '../lib/protocol/schemas.js'
import { claimsOf } from '../lib/auth/access.js'

const COUNTS_BODY_LIMIT = 64 * 1024

const ChannelParams = Type.Object({ channel_id: ChannelId })

const messages: FastifyPluginAsyncTypebox = async (app) => {
  const perMinute = app.chatSettings.countsRateLimit
  const countsRateLimit = perMinute > 0 ? { max: perMinute, timeWindow: 60_000 } : false
  const requireChannelAccess = app.chatRequireAccess((request) => (request.params as { channel_id: string }).channel_id)

  // 201 for a new message; 200 with the original message for a resend of one (same clientId).
  app.post('/api/messages/:channel_id', {
    bodyLimit: MESSAGE_BODY_LIMIT,
    schema: {
      operationId: 'sendMessage',
      summary: 'Send a message',
      description: 'Accepts a message for the channel: it is broadcast at once to the channel\'s WebSockets (on every instance with Redis) ' +
        'and stored in MongoDB in the background, so 201 means accepted, not yet stored (with ACK_AFTER_STORE, the answer waits until it is stored). ' +
        'A clientId in the body or the Idempotency-Key header makes a resend safe: it answers 200 with the original message. ' +
        'Needs access to the channel: the token\'s `id` or one of its `groups` equals the channel id.',
      tags: ['messages'],
      params: ChannelParams,
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ description: 'The same as the body\'s clientId: 1 to 64 characters of A-Z a-z 0-9 . _ : -', examples: ['7f3c1e2a-0b9d'] })) }),
      body: SendMessageBody,
      response: {
        200: { ...Message, description: 'A resend (same clientId): the original message, with the header Idempotent-Replayed: true' },
        201: { ...Message, description: 'The accepted message' },
        400: errorResponse('Invalid channel id, a body that is not JSON like {"content": "..."} with 1 to 4096 characters, not all whitespace (FST_ERR_VALIDATION, FST_ERR_CTP_INVALID_JSON_BODY, FST_ERR_CTP_EMPTY_JSON_BODY), content with a lone surrogate, or an invalid clientId or Idempotency-Key (CHAT_INVALID_MESSAGE)'),
        401: Unauthorized,
        403: errorResponse('No access to the channel (CHAT_FORBIDDEN)'),
        413: errorResponse('Body over 64 KiB (FST_ERR_CTP_BODY_TOO_LARGE)'),
        414: ChannelIdTooLong,
        415: errorResponse('Content-Type is not application/json (FST_ERR_CTP_INVALID_MEDIA_TYPE)'),
        429: retryLaterResponse('The user sends messages faster than USER_MESSAGE_RATE (with USER_MESSAGE_BURST) allows (CHAT_RATE_LIMITED)'),
        503: unavailableResponse('The write queue is full, or the service is shutting down')
      }
    },
    // The token is checked before the body is read: a request without a valid one costs no upload.
    onRequest: app.chatAuthenticate,
    preHandler: requireChannelAccess,
    onError: async (_request, _reply, error) => app.chatMetrics.refusedWith(error)
  }, async (request, reply) => {
    const { content } = request.body
    checkWellFormed(content)
    const clientId = clientIdOf(request.body.clientId, request.headers['idempotency-key'])
    const sent = await app.chatMessages.intake.send({ channel: request.params.channel_id, sender: claimsOf(request).id, content, clientId })
    // With ACK_AFTER_STORE the answer waits for MongoDB, which may name the message first stored with this clientId.
    const message = sent.stored === undefined ? sent.message : await sent.stored
    const resent = sent.duplicate || message.id !== sent.message.id
    if (!sent.duplicate) app.chatMetrics.accepted('rest')
    if (resent) reply.header('idempotent-replayed', 'true')
    return reply.code(resent ? 200 : 201).send(message)
  })

  app.get('/api/messages/:channel_id', {
    schema: {
      operationId: 'listMessages',
      summary: 'Read a channel\'s messages',
      description: 'With access to the channel, all its messages; without, only those the caller sent to it (often none; never 403). ' +
        `Newest first, paging back with \`before\`; or oldest first after \`after\`, to catch up, including messages not stored yet. ${HISTORY_DEFAULT_LIMIT} per page by default.`,
      tags: ['messages'],
      params: ChannelParams,
      querystring: Type.Object({
        // Digits only: TypeBox's query conversion would read "1.5" as 1 and "0x10" as 16.
        limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$', description: `Page size, 1 to ${HISTORY_MAX_LIMIT} in plain digits (default ${HISTORY_DEFAULT_LIMIT})`, examples: ['20'] })),
        before: Type.Optional({ ...MessageId, description: 'Only messages older than this id (the last id of the previous page)' }),
        after: Type.Optional({ ...MessageId, description: 'Only messages newer than this id, oldest first; not with `before`' })
      }),
      response: {
        200: Type.Array(Message, { description: 'The messages' }),
        400: errorResponse('Invalid channel id, `limit`, `before` or `after`, or both `before` and `after` (FST_ERR_VALIDATION, CHAT_INVALID_HISTORY_QUERY)'),
        401: Unauthorized,
        414: ChannelIdTooLong,
        503: unavailableResponse('MongoDB cannot be reached')
      }
    },
    preHandler: app.chatAuthenticate
  }, async (request) => {
    const claims = claimsOf(request)
    const channel = request.params.channel_id
    const { before, after } = request.query
    const limit = request.query.limit === undefined ? HISTORY_DEFAULT_LIMIT : Number(request.query.limit)
    if (limit < 1 || limit > HISTORY_MAX_LIMIT) throw new InvalidHistoryQuery(`limit must be an integer from 1 to ${HISTORY_MAX_LIMIT}`)
    if (before !== undefined && after !== undefined) throw new InvalidHistoryQuery('give before or after, not both')
    const scope = historyScope(claims, channel, await app.chatAuthorize(claims, channel))
    // Paging backwards (newest first) by default; forwards (oldest first) from `after`, to catch up.
    return after === undefined
      ? app.chatMessages.history(scope, limit, before)
      : app.chatMessages.after(scope, after, limit)
  })

  // GET with a JSON body, as the seed documents it: Fastify does not parse GET bodies, so read it here.
  app.get('/api/messages/counts', {
    schema: {
      operationId: 'countConnections',
      summary: 'Count the WebSocket clients of channels',
      description: 'Open WebSocket connections per channel: of this instance, or of every instance with Redis. No token needed. ' +
        'Give the channels as `?channels=a,b`, or as the JSON body {"channels": ["a", "b"]} on the GET (up to 64 KiB, whatever its Content-Type), or both; ' +
        'at most 1000 distinct channels.',
      tags: ['messages'],
      querystring: Type.Object({
        channels: Type.Optional(Type.String({ description: 'Comma-separated channel ids', examples: ['group1,user123'] }))
      }),
      response: {
        200: Type.Record(Type.String(), Type.Integer({ minimum: 0 }), { description: 'Connections per channel', examples: [{ group1: 5, user123: 0 }] }),
        400: errorResponse('No channels, a body that is not {"channels": [strings]}, more than 1000 channels, or an invalid channel id (CHAT_INVALID_COUNTS_REQUEST)'),
        413: errorResponse('Body over 64 KiB (CHAT_BODY_TOO_LARGE)'),
        429: retryLaterResponse('More than COUNTS_RATE_LIMIT requests in a minute from this client address (CHAT_RATE_LIMITED)'),
        503: unavailableResponse('REDIS_URL is set and Redis cannot be reached')
      }
    },
    // No token is needed here: each client address gets COUNTS_RATE_LIMIT requests a minute.
    config: { rateLimit: countsRateLimit }
  }, async (request) => {
    const body = await readBody(request.raw, COUNTS_BODY_LIMIT)
    const channels = requestedChannels(request.query.channels, body)
    try {
      return await app.chatCounts.counts(channels)
    } catch (error) {
      request.log.warn({ err: error }, 'reading cluster counts failed')
      throw new Unavailable('cluster-wide counts need Redis, which is not reachable')
    }
  })
}

const clientIdRegExp = new RegExp(CLIENT_ID_PATTERN)

/** A clientId from the body or the Idempotency-Key header (the same thing); both must agree. */
function clientIdOf (fromBody: string | undefined, header: string | string[] | undefined): string | undefined {
  if (header === undefined) return fromBody
  if (typeof header !== 'string' || !clientIdRegExp.test(header)) throw new InvalidMessage(`Idempotency-Key: ${CLIENT_ID_RULE}`)
  if (fromBody !== undefined && fromBody !== header) throw new InvalidMessage('the body\'s clientId and the Idempotency-Key header differ')
  return header
}

export default messages
