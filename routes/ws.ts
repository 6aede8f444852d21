import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { WebSocket } from '@fastify/websocket'
import type { FastifyBaseLogger } from 'fastify'
import { Type } from 'typebox'
import { CatchUpTruncated, UpgradeRequired } from '../lib/errors.js'
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
  app.route({
    method: 'GET',
    url: '/ws',
    schema: { querystring: WsQuery },
    preHandler: [app.chatAuthenticate, app.chatRequireAccess((request) => (request.query as { channel: string }).channel)],
    // A plain GET (no upgrade) gets an answer in the error shape rather than an empty 404.
    handler: async () => { throw new UpgradeRequired() },
    wsHandler: (socket, request) => {
      // Only plain values go on: closures kept for the socket's lifetime must not hold the request.
      const claims = claimsOf(request)
      serve(socket, request.query.channel, request.query.since, claims.id, claims.exp)
    }
  })

  function serve (socket: WebSocket, channel: string, since: string | undefined, sender: string, exp: number | undefined): void {
    const log = app.log
    // @fastify/websocket's own error listener holds the request and reply (with the raw HTTP
    // request and response) for the socket's lifetime, about 2.5 KiB per idle connection.
    // This one holds nothing: an error on an open socket only needs logging, and ws closes it.
    socket.removeAllListeners('error')
    socket.on('error', (error) => log.debug({ err: error, channel }, 'websocket error'))
    releaseUpgradeResponse(socket)
    const subscriber = new SocketSubscriber(socket, { holdLive: since !== undefined })
    const sendError = (error: unknown): void => socket.send(errorFrame(toErrorBody(error as Error)))

    app.chatHub.join(channel, subscriber)
    app.chatTokenExpiry.watch(subscriber, exp)
    socket.on('close', () => {
      app.chatHub.leave(channel, subscriber)
      app.chatTokenExpiry.unwatch(subscriber, exp)
    })
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      try {
        app.chatMessages.send(channel, sender, readContentFrame(data, isBinary))
      } catch (error) {
        sendError(error)
      }
    })
    if (since !== undefined) catchUp(socket, subscriber, channel, since, sendError, log)
  }

  function catchUp (socket: WebSocket, subscriber: SocketSubscriber, channel: string, since: string, sendError: (error: unknown) => void, log: FastifyBaseLogger): void {
    app.chatMessages.after({ channel }, since, CATCH_UP_LIMIT + 1).then(async (missed) => {
      if (missed.length > CATCH_UP_LIMIT) {
        sendError(new CatchUpTruncated(`more than ${CATCH_UP_LIMIT} messages since ${since}; sending the oldest ${CATCH_UP_LIMIT}, page the rest with GET /api/messages/${channel}?after=`))
      }
      await subscriber.release(missed.slice(0, CATCH_UP_LIMIT))
    }).catch((error: unknown) => {
      log.error({ err: error }, 'catching up a reconnecting client failed')
      socket.close(1011, 'could not read missed messages')
    })
  }
}

/**
 * @fastify/websocket hands the upgraded socket a placeholder HTTP response that the TCP socket
 * keeps referencing (with the whole HTTP request) for as long as it is open. Detach it.
 */
function releaseUpgradeResponse (socket: WebSocket): void {
  const tcp = (socket as unknown as { _socket?: { _httpMessage?: { detachSocket (socket: unknown): void } | null } })._socket
  tcp?._httpMessage?.detachSocket(tcp)
}

export default ws
