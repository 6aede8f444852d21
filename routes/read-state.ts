import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ChannelId, ChannelIdTooLong, errorResponse, MESSAGE_ID_PATTERN, MessageId, Unauthorized, unavailableResponse } from '../lib/protocol/schemas.js'
import { UNREAD_CAP } from '../lib/messages/read-state.js'
import { claimsOf } from '../lib/auth/access.js'

const ChannelParams = Type.Object({ channel: ChannelId })
const MarkReadBody = Type.Object({
  id: { ...MessageId, description: 'The message read up to' }
}, { description: 'The newest message the user has read', examples: [{ id: '6b06ec9c9ca8c2fad139f951' }] })

const readState: FastifyPluginAsyncTypebox = async (app) => {
  const requireChannelAccess = app.chatRequireAccess((request) => (request.params as { channel: string }).channel)

  app.put('/api/channels/:channel/read', {
    schema: {
      operationId: 'markRead',
      summary: 'Mark a channel read up to a message',
      description: 'Moves the caller\'s read marker in the channel to the message. Markers only move forward (by `seq`): an older message is accepted and changes nothing. ' +
        'Sockets subscribed to the channel, on every instance, get `{"read": {"channel", "user", "id"}}` (at most one per user and channel per second, the latest). ' +
        'Sending a message moves the sender\'s own marker to it. Needs access to the channel.',
      tags: ['read-state'],
      params: ChannelParams,
      body: MarkReadBody,
      response: {
        204: { type: 'null', description: 'Marked (or the marker was already at or beyond the message)' },
        400: errorResponse('Invalid channel id, or a body that is not {"id": "<message id>"} (FST_ERR_VALIDATION, FST_ERR_CTP_INVALID_JSON_BODY, FST_ERR_CTP_EMPTY_JSON_BODY)'),
        401: Unauthorized,
        403: errorResponse('No access to the channel (CHAT_FORBIDDEN)'),
        404: errorResponse('The id is not a message of the channel (CHAT_MESSAGE_NOT_FOUND)'),
        414: ChannelIdTooLong,
        503: unavailableResponse('MongoDB cannot be reached')
      }
    },
    onRequest: app.chatAuthenticate,
    preHandler: requireChannelAccess
  }, async (request, reply) => {
    await app.chatReadState.markRead(claimsOf(request), request.params.channel, request.body.id)
    return reply.code(204).send(null)
  })

  app.get('/api/channels/:channel/read', {
    schema: {
      operationId: 'listReadMarkers',
      summary: 'Who has read a channel how far',
      description: 'Every user\'s read marker in the channel: the id of the newest message each has read ("seen by"). Needs access to the channel.',
      tags: ['read-state'],
      params: ChannelParams,
      response: {
        // Without MessageId's `examples`: OpenAPI 3.0 allows none inside additionalProperties.
        200: Type.Record(Type.String(), Type.String({ pattern: MESSAGE_ID_PATTERN, description: 'A message id' }), { description: 'Message id by user id', examples: [{ ann: '6b06ec9c9ca8c2fad139f951', ben: '6b06ec9c9ca8c2fad139f94e' }] }),
        400: errorResponse('Invalid channel id (FST_ERR_VALIDATION)'),
        401: Unauthorized,
        403: errorResponse('No access to the channel (CHAT_FORBIDDEN)'),
        414: ChannelIdTooLong,
        503: unavailableResponse('MongoDB cannot be reached')
      }
    },
    onRequest: app.chatAuthenticate,
    preHandler: requireChannelAccess
  }, async (request) => app.chatReadState.seenBy(claimsOf(request), request.params.channel))

  app.get('/api/unread', {
    schema: {
      operationId: 'countUnread',
      summary: 'Unread counts of the caller\'s channels',
      description: 'For the token\'s own channel (its `id`) and each of its `groups`: the messages others sent after the caller\'s read marker (from the channel\'s beginning without one) that are not deleted. ' +
        `Exact up to ${UNREAD_CAP}; a channel with more answers ${UNREAD_CAP}, so a call never reads more than that many index entries per channel.`,
      tags: ['read-state'],
      response: {
        200: Type.Record(Type.String(), Type.Integer({ minimum: 0, maximum: UNREAD_CAP }), { description: 'Unread messages by channel', examples: [{ user123: 0, group1: 12 }] }),
        401: Unauthorized,
        503: unavailableResponse('MongoDB cannot be reached')
      }
    },
    onRequest: app.chatAuthenticate
  }, async (request) => app.chatReadState.unread(claimsOf(request)))
}

export default readState
