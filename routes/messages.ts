import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { historyScope } from '../lib/access.js'
import { requestedChannels } from '../lib/counts-request.js'
import { InvalidHistoryQuery, Unavailable } from '../lib/errors.js'
import { readBody } from '../lib/read-body.js'
import {
  ChannelId, ErrorResponse, HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT, Message, MessageId,
  MESSAGE_BODY_LIMIT, SendMessageBody
} from '../lib/schemas.js'
import { claimsOf } from '../plugins/auth.js'

const COUNTS_BODY_LIMIT = 64 * 1024

const ChannelParams = Type.Object({ channel_id: ChannelId })
const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 503: ErrorResponse }

const messages: FastifyPluginAsyncTypebox = async (app) => {
  const requireChannelAccess = app.chatRequireAccess((request) => (request.params as { channel_id: string }).channel_id)

  app.post('/api/messages/:channel_id', {
    bodyLimit: MESSAGE_BODY_LIMIT,
    schema: { params: ChannelParams, body: SendMessageBody, response: { 201: Message, ...errors } },
    preHandler: [app.chatAuthenticate, requireChannelAccess]
  }, async (request, reply) => {
    const message = app.chatMessages.send(request.params.channel_id, claimsOf(request).id, request.body.content)
    return reply.code(201).send(message)
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
      ? app.chatMessages.history({ scope, limit, before })
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

export default messages
