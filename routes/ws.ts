import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { WebSocket } from '@fastify/websocket'
import type { FastifyBaseLogger } from 'fastify'
import { Type } from 'typebox'
import { CatchUpTruncated, UpgradeRequired } from '../lib/errors.js'
import { errorFrame, readContentFrame } from '../lib/frames.js'
import { ChannelId, errorResponse, MessageId, Unauthorized } from '../lib/schemas.js'
import { SocketSubscriber } from '../lib/socket-subscriber.js'
import { claimsOf } from '../plugins/auth.js'
import { toErrorBody } from '../plugins/error-replies.js'

/** The most messages a reconnecting client is sent before going live; older ones are for REST paging. */
export const CATCH_UP_LIMIT = 10_000

const WsQuery = Type.Object({
  channel: { ...ChannelId, description: 'The channel to join' },
  since: Type.Optional({ ...MessageId, description: 'The last message id the client received: the missed messages come first' }),
  access_token: Type.Optional(Type.String({ description: 'The token, for browsers, which cannot set headers on a WebSocket (the Authorization header is tried first)' }))
})

const WS_DESCRIPTION = `Opens a WebSocket on one channel. The token and the access check apply at the upgrade; a refused upgrade is an ordinary HTTP answer in the error shape.
Browsers, which cannot set headers on a WebSocket, can pass the token as the subprotocol pair \`access_token, <token>\` (the server then answers with the \`access_token\` subprotocol) or as the \`access_token\` query parameter.

**Client to server**, text frames: \`{"content": "..."}\`, as the body of sendMessage. Each accepted frame becomes a message on the channel, sent by the token's \`id\`.

**Server to client**, text frames:
- a message, \`{"id", "channel", "sender", "content", "createdAt"}\`, as sendMessage answers it: every message sent to the channel over WebSocket or REST, the client's own included;
- an error frame, \`{"error": {"statusCode", "code", "error", "message"}}\` (ChatError under "error"): 400 CHAT_INVALID_MESSAGE for a frame that is not JSON, has invalid content, or is binary; 503 CHAT_UNAVAILABLE when the write queue is full or the service is shutting down; 413 CHAT_CATCH_UP_TRUNCATED before a catch-up of more than ${CATCH_UP_LIMIT} messages. The connection stays open.

**Catch-up** (\`since\`): the messages after that id come first, oldest first, then the live ones, none twice.

**Close codes**: 1001 when the service shuts down, 1009 for a frame over 16 KiB, 1011 when the missed messages cannot be read.`

const ws: FastifyPluginAsyncTypebox = async (app) => {
  app.route({
    method: 'GET',
    url: '/ws',
    schema: {
      operationId: 'openWebSocket',
      summary: 'Open a WebSocket on a channel',
      description: WS_DESCRIPTION,
      tags: ['websocket'],
      querystring: WsQuery,
      response: {
        101: { type: 'null', description: 'Switching Protocols: the WebSocket is open (frames in the description)' },
        400: errorResponse('Missing or invalid `channel`, or invalid `since` (FST_ERR_VALIDATION)'),
        401: Unauthorized,
        403: errorResponse('No access to the channel (CHAT_FORBIDDEN)'),
        426: errorResponse('A plain GET without Upgrade: websocket (CHAT_UPGRADE_REQUIRED)')
      }
    },
    preHandler: [app.chatAuthenticate, app.chatRequireAccess((request) => (request.query as { channel: string }).channel)],
    // A plain GET (no upgrade) gets an answer in the error shape rather than an empty 404.
    handler: async () => { throw new UpgradeRequired() },
    wsHandler: (socket, request) => {
      // Only plain values go on: closures kept for the socket's lifetime must not hold the request.
      serve(socket, request.query.channel, request.query.since, claimsOf(request).id)
    }
  })

  function serve (socket: WebSocket, channel: string, since: string | undefined, sender: string): void {
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
    socket.on('close', () => app.chatHub.leave(channel, subscriber))
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      try {
        app.chatMessages.send(channel, sender, readContentFrame(data, isBinary))
        app.chatMetrics.accepted('ws')
      } catch (error) {
        app.chatMetrics.refusedWith(error)
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
