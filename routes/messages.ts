import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { historyScope } from '../lib/access.js'
import { requestedChannels } from '../lib/counts-request.js'
import { InvalidHistoryQuery, InvalidMessage, Unavailable } from '../lib/errors.js'
import { readBody } from '../lib/read-body.js'
import { CLIENT_ID_RULE } from '../lib/frames.js'
import {
  ChannelId, CLIENT_ID_PATTERN, ErrorResponse, HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT, Message, MessageId,
  MESSAGE_BODY_LIMIT, SendMessageBody
} from '../lib/schemas.js'
import { claimsOf } from '../plugins/auth.js'

const COUNTS_BODY_LIMIT = 64 * 1024

const ChannelParams = Type.Object({ channel_id: ChannelId })
const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 503: ErrorResponse }

const messages: FastifyPluginAsyncTypebox = async (app) => {
  const requireChannelAccess = app.chatRequireAccess((request) => (request.params as { channel_id: string }).channel_id)

  // 201 for a new message; 200 with the original message for a resend of one (same clientId).
  app.post('/api/messages/:channel_id', {
    bodyLimit: MESSAGE_BODY_LIMIT,
    schema: { params: ChannelParams, body: SendMessageBody, response: { 200: Message, 201: Message, ...errors } },
    preHandler: [app.chatAuthenticate, requireChannelAccess]
  }, async (request, reply) => {
    const { content } = request.body
    const clientId = clientIdOf(request.body.clientId, request.headers['idempotency-key'])
    const sent = await app.chatMessages.intake.send({ channel: request.params.channel_id, sender: claimsOf(request).id, content, clientId })
    // With ACK_AFTER_STORE the answer waits for MongoDB, which may name the message first stored with this clientId.
    const message = sent.stored === undefined ? sent.message : await sent.stored
    const resent = sent.duplicate || message.id !== sent.message.id
    if (resent) reply.header('idempotent-replayed', 'true')
    return reply.code(resent ? 200 : 201).send(message)
  })

  app.get('/api/messages/:channel_id', {
    schema: {
      params: ChannelParams,
      querystring: Type.Object({
        // Digits only: TypeBox's query conversion would read "1.5" as 1 and "0x10" as 16.
        limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })),
        before: Type.Optional(MessageId),
        after: Type.Optional(MessageId)
      }),
      response: { 200: Type.Array(Message), ...errors }
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
      querystring: Type.Object({ channels: Type.Optional(Type.String()) }),
      response: { 200: Type.Record(Type.String(), Type.Integer()), 400: ErrorResponse, 413: ErrorResponse, 503: ErrorResponse }
    }
  }, async (request) => {
    const body = await readBody(request.raw, COUNTS_BODY_LIMIT)
    const channels = requestedChannels(request.query.channels, body)
    try {
      return await app.chatFanout.counts(channels)
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
