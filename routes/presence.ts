import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ChannelId, ChannelIdTooLong, errorResponse, Unauthorized } from '../lib/protocol/schemas.js'

const PRESENCE_DEFAULT_LIMIT = 100
const PRESENCE_MAX_LIMIT = 1000

const PresentUsers = Type.Object({
  channel: ChannelId,
  total: Type.Integer({ minimum: 0, description: 'Every present user, however many are listed' }),
  users: Type.Array(Type.String(), { description: 'Distinct user ids, sorted, at most `limit` of them' })
}, { examples: [{ channel: 'group1', total: 2, users: ['ann', 'ben'] }] })

const presence: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/api/channels/:channel/presence', {
    schema: {
      operationId: 'listPresentUsers',
      summary: 'List who is present in a channel',
      description: 'The users with at least one WebSocket subscribed to the channel, on any instance with Redis ' +
        '(and for PRESENCE_LEAVE_DELAY_MS after their last one closes). Needs access to the channel, as reading its messages does.',
      tags: ['presence'],
      params: Type.Object({ channel: ChannelId }),
      querystring: Type.Object({
        // Digits only: TypeBox's query conversion would read "1.5" as 1 and "0x10" as 16.
        limit: Type.Optional(Type.String({ pattern: '^(?:[1-9][0-9]{0,2}|1000)$', description: `Users listed at most, 1 to ${PRESENCE_MAX_LIMIT} in plain digits (default ${PRESENCE_DEFAULT_LIMIT})`, examples: ['20'] }))
      }),
      response: {
        200: { ...PresentUsers, description: 'The present users' },
        400: errorResponse('Invalid channel id or `limit` (FST_ERR_VALIDATION)'),
        401: Unauthorized,
        403: errorResponse('No access to the channel (CHAT_FORBIDDEN)'),
        414: ChannelIdTooLong
      }
    },
    onRequest: app.chatAuthenticate,
    preHandler: app.chatRequireAccess((request) => (request.params as { channel: string }).channel)
  }, async (request) => {
    const { channel } = request.params
    const limit = request.query.limit === undefined ? PRESENCE_DEFAULT_LIMIT : Number(request.query.limit)
    return { channel, ...await app.chatPresence.users(channel, limit) }
  })
}

export default presence
