import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { CatchUpTruncated } from '../lib/errors.js'
import { errorFrame, readContentFrame } from '../lib/frames.js'
import { ChannelId, MessageId } from '../lib/schemas.js'
import { SocketSubscriber } from '../lib/socket-subscriber.js'
import { claimsOf } from '../plugins/auth.js'
import { toErrorBody } from '../plugins/error-replies.js'

/** The most messages a reconnecting client is sent before going live; older ones are for REST paging. */
export const CATCH_UP_LIMIT = 10_000

const WsQuery = Type.Object({
  channel: ChannelId,
  since: Type.Optional(MessageId),
  access_token: Type.Optional(Type.String())
})

const ws: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/ws', {
    websocket: true,
    schema: { querystring: WsQuery },
    preHandler: [app.chatAuthenticate, app.chatRequireAccess((request) => (request.query as { channel: string }).channel)]
  }, (socket, request) => {
    const { channel, since } = request.query
    const sender = claimsOf(request).id
    const subscriber = new SocketSubscriber(socket, { holdLive: since !== undefined })
    const sendError = (error: unknown): void => socket.send(errorFrame(toErrorBody(error as Error)))

    app.chatHub.join(channel, subscriber)
    socket.on('close', () => app.chatHub.leave(channel, subscriber))
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      try {
        app.chatMessages.send(channel, sender, readContentFrame(data, isBinary))
      } catch (error) {
        sendError(error)
      }
    })

    if (since !== undefined) {
      app.chatMessages.after({ channel }, since, CATCH_UP_LIMIT + 1).then((missed) => {
        if (missed.length > CATCH_UP_LIMIT) {
          sendError(new CatchUpTruncated(`more than ${CATCH_UP_LIMIT} messages since ${since}; sending the oldest ${CATCH_UP_LIMIT}, page the rest with GET /api/messages/${channel}?after=`))
        }
        subscriber.release(missed.slice(0, CATCH_UP_LIMIT))
      }, (error: unknown) => {
        request.log.error({ err: error }, 'catching up a reconnecting client failed')
        socket.close(1011, 'could not read missed messages')
      })
    }
  })
}

export default ws
