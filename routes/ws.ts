import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { WebSocket } from '@fastify/websocket'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { catchUp } from '../lib/delivery/catch-up.js'
import { readFrameHandler, readFrameOf } from '../lib/delivery/read-frames.js'
import type { Claims } from '../lib/auth/access.js'
import { CatchUpBusy, CatchUpGap, TooManyConnections, UnknownSince, UpgradeRequired } from '../lib/protocol/errors.js'
import { ackFrame, errorFrame, readSendFrame, type FrameError } from '../lib/protocol/frames.js'
import type { Admission, Sent } from '../lib/messages/message-intake.js'
import { ChannelId, errorResponse, MAX_MESSAGE_JSON_BYTES, MessageId, Unauthorized } from '../lib/protocol/schemas.js'
import { SocketSubscriber } from '../lib/delivery/socket-subscriber.js'
import { within } from '../lib/util/within.js'
import { claimsOf } from '../plugins/auth.js'
import { toErrorBody } from '../plugins/error-replies.js'
import { SETTLE_MS } from '../plugins/messages.js'

/** Missed messages are read and sent this many at a time. */
const CATCH_UP_PAGE_SIZE = 200
/** How long an upgrade waits for its channel to be live on this instance before it opens anyway (Redis slow to answer). */
const LIVE_BEFORE_OPEN_WAIT_MS = 2_000
/** How long a catch-up waits for its share of CATCH_UP_MEMORY_BYTES before it gives up with CHAT_CATCH_UP_BUSY. */
const CATCH_UP_MEMORY_WAIT_MS = 10_000

const WsQuery = Type.Object({
  channel: { ...ChannelId, description: 'The channel to join' },
  since: Type.Optional({ ...MessageId, description: 'The last message id the client received: the missed messages come first' }),
  access_token: Type.Optional(Type.String({ description: 'The token, for browsers, which cannot set headers on a WebSocket (the Authorization header is tried first)' }))
})

const WS_DESCRIPTION = `Opens a WebSocket on one channel. The token and the access check apply at the upgrade; a refused upgrade is an ordinary HTTP answer in the error shape.
Browsers, which cannot set headers on a WebSocket, can pass the token as the subprotocol pair \`access_token, <token>\` (the server then answers with the \`access_token\` subprotocol) or as the \`access_token\` query parameter.

**Client to server**, text frames: \`{"content": "...", "clientId": "..."}\`, as the body of sendMessage (\`clientId\` optional). Each accepted frame becomes a message on the channel, sent by the token's \`id\`; a socket's frames keep their order.

**Server to client**, text frames:
- a message, \`{"id", "channel", "sender", "content", "createdAt", "seq", "clientId"?}\`, as sendMessage answers it: every message sent to the channel over WebSocket or REST, the client's own included, in \`seq\` order;
- an ack, \`{"ack": {"clientId", "id"}}\`, to the sending socket for every frame with a clientId (a resend is acked with the first message's id and not broadcast again; with ACK_AFTER_STORE, only once the message is stored);
- an error frame, \`{"error": {"statusCode", "code", "error", "message", "clientId"?}}\` (ChatError under "error", with the frame's clientId): 400 CHAT_INVALID_MESSAGE for a frame that is not JSON, has an invalid content (a lone surrogate included) or clientId, or is binary; 413 CHAT_BODY_TOO_LARGE for a frame over 64 KiB; 429 CHAT_RATE_LIMITED when the user sends faster than USER_MESSAGE_RATE allows; 503 CHAT_UNAVAILABLE when the write queue is full or the service is shutting down; during a catch-up, 400 CHAT_UNKNOWN_SINCE, 503 CHAT_CATCH_UP_GAP, and 503 CHAT_CATCH_UP_BUSY when too many clients catch up at once (the rest of the missed messages are not sent; live ones follow). The connection stays open.

**Catch-up** (\`since\`): every message of the channel after that one, on any instance, in seq order, then the live ones, none twice.

**Close codes**: 1001 when the service shuts down, 1009 for a frame over 1 MiB, 1011 when the missed messages cannot be read, 4001 when the token expires.`

const ws: FastifyPluginAsyncTypebox = async (app) => {
  const { intake, reader } = app.chatMessages
  const { connections, catchUpMemory } = app.chatLimits
  // Issue 33: read frames. The frame dispatcher of issue 31 takes this handler over.
  const onReadFrame = readFrameHandler(app.chatReadState, toErrorBody)
  const catchUpMemoryOptions = {
    budget: catchUpMemory,
    pageBytes: Math.min(CATCH_UP_PAGE_SIZE * MAX_MESSAGE_JSON_BYTES, app.chatSettings.catchUpMemoryBytes),
    waitMs: CATCH_UP_MEMORY_WAIT_MS
  }

  async function withinConnectionCap (request: FastifyRequest): Promise<void> {
    if (request.ws && !connections.hasRoom(claimsOf(request).id)) throw new TooManyConnections(connections.max)
  }

  // With Redis, this instance receives a channel only once it has subscribed to it. A client
  // whose socket opened before that would miss what is sent right after it connects, its own
  // REST posts included, so the upgrade waits (briefly) until the channel is live here.
  const holds = new WeakMap<object, () => void>()
  async function liveBeforeOpen (request: FastifyRequest<{ Querystring: { channel: string } }>): Promise<void> {
    if (!request.ws) return
    const hold = app.chatFanout.hold(request.query.channel)
    holds.set(request.raw, hold.release)
    request.raw.socket.once('close', hold.release)
    await within(hold.live, LIVE_BEFORE_OPEN_WAIT_MS, undefined)
  }

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
        426: errorResponse('A plain GET without Upgrade: websocket (CHAT_UPGRADE_REQUIRED)'),
        429: errorResponse('The user already has USER_MAX_CONNECTIONS WebSockets open on this instance (CHAT_TOO_MANY_CONNECTIONS)')
      }
    },
    onRequest: app.chatAuthenticate,
    preHandler: [app.chatRequireAccess((request) => (request.query as { channel: string }).channel), withinConnectionCap, liveBeforeOpen],
    // A plain GET (no upgrade) gets an answer in the error shape rather than an empty 404.
    handler: async () => { throw new UpgradeRequired() },
    wsHandler: (socket, request) => {
      // Only plain values go on: closures kept for the socket's lifetime must not hold the request.
      const claims = claimsOf(request)
      serve(socket, request.query.channel, request.query.since, claims.id, claims.exp, claims)
      const release = holds.get(request.raw)
      if (release !== undefined) {
        release()
        request.raw.socket.removeListener('close', release)
      }
    }
  })

  function serve (socket: WebSocket, channel: string, since: string | undefined, sender: string, exp: number | undefined, claims: Claims): void {
    // @fastify/websocket's own error listener holds the request and reply (with the raw HTTP
    // request and response) for the socket's lifetime, about 2.5 KiB per idle connection.
    // This one holds nothing: an error on an open socket only needs logging, and ws closes it.
    const log = app.log
    socket.removeAllListeners('error')
    socket.on('error', (error) => log.debug({ err: error, channel }, 'websocket error'))
    releaseUpgradeResponse(socket)
    const subscriber = new SocketSubscriber(socket, { holdLive: since !== undefined, user: sender })
    const sendError = (error: unknown, clientId?: string): void => subscriber.send(errorFrame(toErrorBody(error as Error), clientId))
    const refuse = (error: unknown, clientId?: string): void => {
      app.chatMetrics.refusedWith(error)
      sendError(error, clientId)
    }
    const acknowledge = (sent: Sent, clientId: string | undefined): void => {
      if (!sent.duplicate) app.chatMetrics.accepted('ws')
      if (clientId === undefined) return
      if (sent.stored === undefined) subscriber.send(ackFrame(clientId, sent.message.id))
      else sent.stored.then((stored) => subscriber.send(ackFrame(clientId, stored.id)), (error: unknown) => sendError(error, clientId))
    }

    app.chatHub.join(channel, subscriber)
    app.chatTokenExpiry.watch(subscriber, exp)
    connections.opened(sender)
    socket.on('close', () => {
      connections.closed(sender)
      app.chatHub.leave(channel, subscriber)
      app.chatTokenExpiry.unwatch(subscriber, exp)
    })
    const commit = (admission: Admission, clientId: string | undefined): void => {
      intake.commit(admission).then((sent) => acknowledge(sent, clientId), (error: unknown) => refuse(error, clientId))
    }

    // Frames wait until this instance receives the channel live (the sender's own echo included),
    // and are committed one after the other, so a socket's messages keep their order: through a
    // chain of promises while an earlier one waits (for the channel, or for its clientId lookup),
    // at once when nothing does (most frames: the chain's promises were a measurable part of a
    // message's cost).
    const live = app.chatFanout.live(channel)
    let isLive = false
    live.then(() => { isLive = true }, () => {})
    let previous: Promise<unknown> = live
    let chained = 0
    const chain = (admitted: Promise<Admission>, clientId: string | undefined): void => {
      // Refused at once (rate, shutdown) while earlier frames are still in the chain: answered in turn below.
      admitted.catch(() => {})
      chained++
      previous = previous.then(() => admitted).then(
        (admission) => {
          chained--
          commit(admission, clientId)
        },
        (error: unknown) => {
          chained--
          refuse(error, clientId)
        }
      )
    }
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      let frame
      try {
        frame = readSendFrame(data, isBinary)
      } catch (error) {
        // Issue 33: a frame {"read": {...}} is not a send; the frame dispatcher of issue 31 takes this over.
        const read = readFrameOf(data, isBinary)
        if (read !== undefined) {
          onReadFrame(read, { claims, send: (text) => subscriber.send(text) })
          return
        }
        refuse(error, (error as FrameError).clientId)
        return
      }
      const { content, clientId } = frame
      const request = { channel, sender, content, clientId }
      if (!isLive || chained > 0) {
        chain(intake.admit(request), clientId)
        return
      }
      let admitted: Admission | Promise<Admission>
      try {
        admitted = intake.admitNow(request)
      } catch (error) {
        refuse(error, clientId)
        return
      }
      if (admitted instanceof Promise) chain(admitted, clientId)
      else commit(admitted, clientId)
    })

    if (since === undefined) return
    live.then(() => app.chatFanout.frontier(channel)).then((frontier) => catchUp({
      channel,
      since,
      subscriber,
      reader,
      frontier,
      pageSize: CATCH_UP_PAGE_SIZE,
      settleMs: SETTLE_MS,
      memory: catchUpMemoryOptions,
      onUnknownSince: () => sendError(new UnknownSince(since, channel)),
      onGap: ({ from, to }) => sendError(new CatchUpGap(from, to)),
      onBusy: () => sendError(new CatchUpBusy())
    })).catch((error: unknown) => {
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
