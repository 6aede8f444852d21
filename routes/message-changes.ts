import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { checkWellFormed } from '../lib/protocol/frames.js'
import {
  ChannelId, ChannelIdTooLong, EditMessageBody, errorResponse, Message, MessageId, MESSAGE_BODY_LIMIT, Unauthorized, unavailableResponse
} from '../lib/protocol/schemas.js'
import { claimsOf } from '../lib/auth/access.js'

const MessageParams = Type.Object({ channel_id: ChannelId, id: MessageId })

const LIVE_AND_RECOVERABLE = 'Every socket subscribed to the channel, on every instance, gets the change in the channel\'s order, and a socket that catches up (`since`) gets it among the messages it missed, ' +
  'even for a message older than `since`. Applying a change twice changes nothing.'

const messageChanges: FastifyPluginAsyncTypebox = async (app) => {
  app.patch('/api/messages/:channel_id/:id', {
    bodyLimit: MESSAGE_BODY_LIMIT,
    schema: {
      operationId: 'editMessage',
      summary: 'Edit a message',
      description: 'Replaces the content of one of the caller\'s own messages (the content rules of a send), and sets `editedAt`. ' +
        `Sockets get \`{"edited": <the message>}\`. ${LIVE_AND_RECOVERABLE} Needs access to the channel.`,
      tags: ['messages'],
      params: MessageParams,
      body: EditMessageBody,
      response: {
        200: { ...Message, description: 'The message as edited' },
        400: errorResponse('Invalid channel or message id, or a body that is not JSON like {"content": "..."} with 1 to 4096 characters, not all whitespace, without lone surrogates (FST_ERR_VALIDATION, FST_ERR_CTP_INVALID_JSON_BODY, CHAT_INVALID_MESSAGE)'),
        401: Unauthorized,
        403: errorResponse('Not the message\'s sender (CHAT_CHANGE_FORBIDDEN), or no access to the channel (CHAT_FORBIDDEN)'),
        404: errorResponse('No such message in the channel, or it is deleted (CHAT_MESSAGE_NOT_FOUND)'),
        414: ChannelIdTooLong,
        503: unavailableResponse('MongoDB cannot be reached')
      }
    },
    onRequest: app.chatAuthenticate
  }, async (request) => {
    const { content } = request.body
    checkWellFormed(content)
    return app.chatChanges.edit(claimsOf(request), request.params.channel_id, request.params.id, content)
  })

  app.delete('/api/messages/:channel_id/:id', {
    schema: {
      operationId: 'deleteMessage',
      summary: 'Delete a message',
      description: 'By its sender, or by a moderator (a token whose JWT_ROLES_CLAIM holds JWT_MODERATOR_ROLE) with access to the channel. ' +
        'The message stays in place as a tombstone: `content` "" and `deletedAt` set; `id`, `seq`, `sender` and `createdAt` kept. Deleting it again answers 204 and changes nothing. ' +
        `Sockets get \`{"deleted": {"channel", "id", "deletedAt"}}\`. ${LIVE_AND_RECOVERABLE}`,
      tags: ['messages'],
      params: MessageParams,
      response: {
        204: { type: 'null', description: 'Deleted (or deleted already)' },
        400: errorResponse('Invalid channel or message id (FST_ERR_VALIDATION)'),
        401: Unauthorized,
        403: errorResponse('Neither the message\'s sender nor a moderator with access to the channel (CHAT_CHANGE_FORBIDDEN)'),
        404: errorResponse('No such message in the channel (CHAT_MESSAGE_NOT_FOUND)'),
        414: ChannelIdTooLong,
        503: unavailableResponse('MongoDB cannot be reached')
      }
    },
    onRequest: app.chatAuthenticate
  }, async (request, reply) => {
    await app.chatChanges.remove(claimsOf(request), request.params.channel_id, request.params.id)
    return reply.code(204).send(null)
  })
}

export default messageChanges
