import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { WebSocket } from '@fastify/websocket'
import { Type } from 'typebox'
import type { Subscriber } from '../lib/hub.js'
import { errorFrame, readContentFrame } from '../lib/frames.js'
import { ChannelId } from '../lib/schemas.js'
import { claimsOf } from '../plugins/auth.js'
import { toErrorBody } from '../plugins/error-replies.js'

/** A client that cannot keep up is dropped rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024

const WsQuery = Type.Object({
  channel: ChannelId,
  access_token: Type.Optional(Type.String())
})

const ws: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/ws', {
    websocket: true,
    schema: { querystring: WsQuery },
    preHandler: [app.chatAuthenticate, app.chatRequireAccess((request) => (request.query as { channel: string }).channel)]
  }, (socket, request) => {
    const { channel } = request.query
    const sender = claimsOf(request).id
    const subscriber = socketSubscriber(socket)
    app.chatHub.join(channel, subscriber)
    socket.on('close', () => app.chatHub.leave(channel, subscriber))
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      try {
        app.chatMessages.send(channel, sender, readContentFrame(data, isBinary))
      } catch (error) {
        socket.send(errorFrame(toErrorBody(error as Error)))
      }
    })
  })
}

function socketSubscriber (socket: WebSocket): Subscriber {
  return {
    deliver (frame) {
      if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
        socket.terminate()
        return
      }
      socket.send(frame, { binary: false })
    },
    close: (code, reason) => socket.close(code, reason)
  }
}

export default ws
