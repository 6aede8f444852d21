import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { WebSocket } from '@fastify/websocket'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type, type Static } from 'typebox'
import { CATCH_UP_PAGE_SIZE, LIVE_BEFORE_OPEN_WAIT_MS, serveSocket, type SocketServices } from '../lib/delivery/socket-handler.js'
import { InvalidUpgrade, TooManyConnections, UpgradeRequired } from '../lib/protocol/errors.js'
import { ChannelId, errorResponse, MAX_MESSAGE_JSON_BYTES, MessageId, Unauthorized } from '../lib/protocol/schemas.js'
import { within } from '../lib/util/within.js'
import { claimsOf } from '../lib/auth/access.js'
import { SETTLE_MS } from '../lib/storage/message-reader.js'
/** How long a catch-up waits for its share of CATCH_UP_MEMORY_BYTES before it gives up with CHAT_CATCH_UP_BUSY. */
const CATCH_UP_MEMORY_WAIT_MS = 10_000

const WsQuery = Type.Object({
  channel: Type.Optional({ ...ChannelId, description: 'A channel to start subscribed to; without it the socket starts with none (see the subscribe frame)' }),
  since: Type.Optional({ ...MessageId, description: 'With channel: the last message id the client received, the missed messages come first' }),
  presence: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')], { description: 'With channel, `true`: the socket gets its presence frames (`presence`, then `join` and `leave`)' })),
  access_token: Type.Optional(Type.String({ description: 'The token, for browsers, which cannot set headers on a WebSocket (the Authorization header is tried first)' }))
})
type WsQuery = Static<typeof WsQuery>

const WS_DESCRIPTION = `Opens a WebSocket for any number of channels. The token (and, with \`channel\`, the access check) apply at the upgrade; a refused upgrade is an ordinary HTTP answer in the error shape.
Browsers, which cannot set headers on a WebSocket, can pass the token as the subprotocol pair \`access_token, <token>\` (the server then answers with the \`access_token\` subprotocol) or as the \`access_token\` query parameter.

**Client to server**, text frames:
- \`{"subscribe": {"channel", "since"?, "presence"?}}\` → \`{"subscribed": {"channel"}}\` once live (then, with \`since\`, every message after it, then the live ones); \`{"unsubscribe": {"channel"}}\` → \`{"unsubscribed": {"channel"}}\`; at most MAX_CHANNELS_PER_CONNECTION channels;
- a message, \`{"channel", "content", "clientId"?}\` (\`channel\` may be left out on a socket opened with \`?channel=\`): it needs the access a REST post needs, not a subscription; a socket's messages keep their order;
- \`{"typing": {"channel"}}\`: at most one per user and channel is relayed every TYPING_INTERVAL_MS, the rest are dropped; never stored;
- \`{"read": {"channel", "id"}}\`: moves the user's read marker, as PUT /api/channels/{channel}/read does;
- \`{"ping": {}}\` → \`{"pong": {}}\`.

**Server to client**, text frames:
- a message, \`{"id", "channel", "sender", "content", "createdAt", "seq", "clientId"?}\`, as sendMessage answers it: every message of each subscribed channel, the client's own included, in \`seq\` order;
- with presence (\`presence: true\` or \`presence=true\`): first \`{"presence": {"channel", "users"}}\` (the first 100 present users, sorted), then \`{"join": {"channel", "user"}}\` and \`{"leave": {"channel", "user"}}\` (none above PRESENCE_EVENTS_MAX_USERS present users);
- \`{"typing": {"channel", "user"}}\` when another user of a subscribed channel types;
- \`{"read": {"channel", "user", "id"}}\` when a user's read marker moves (at most one per user and channel per second);
- \`{"edited": <message>}\` and \`{"deleted": {"channel", "id", "deletedAt"}}\` when a message changes: each change takes the channel's next seq and is caught up with \`since\` like a message;
- an ack, \`{"ack": {"clientId", "id"}}\`, for every message frame with a clientId (a resend is acked with the first message's id and not broadcast again; with ACK_AFTER_STORE, only once stored);
- an error frame, \`{"error": {"statusCode", "code", "error", "message", "clientId"?, "channel"?}}\`: 400 CHAT_INVALID_MESSAGE, CHAT_INVALID_CHANNEL or CHAT_INVALID_FRAME, 403 CHAT_FORBIDDEN, 404 CHAT_MESSAGE_NOT_FOUND (read), 413 CHAT_BODY_TOO_LARGE (over 64 KiB), 429 CHAT_RATE_LIMITED or CHAT_TOO_MANY_CHANNELS, 503 CHAT_UNAVAILABLE; during a catch-up, 400 CHAT_UNKNOWN_SINCE, 503 CHAT_CATCH_UP_GAP and 503 CHAT_CATCH_UP_BUSY. The connection stays open.

**Heartbeat**: a ping control frame every WS_PING_INTERVAL_MS; a socket silent for WS_PING_INTERVAL_MS + WS_PONG_TIMEOUT_MS is cut off.

**Close codes**: 1001 when the service shuts down, 1009 for a frame over 1 MiB, 1011 when the missed messages cannot be read, 4001 when the token expires.`

const ws: FastifyPluginAsyncTypebox = async (app) => {
  const { intake, reader } = app.chatMessages
  const { connections, catchUpMemory } = app.chatLimits
  const settings = app.chatSettings
  const services: SocketServices = {
    hub: app.chatHub,
    heartbeat: app.chatHeartbeat,
    broker: app.chatFanout,
    intake,
    reader,
    authorize: app.chatAuthorize,
    metrics: app.chatMetrics,
    tokenExpiry: app.chatTokenExpiry,
    connections,
    catchUpMemory: {
      budget: catchUpMemory,
      pageBytes: Math.min(CATCH_UP_PAGE_SIZE * MAX_MESSAGE_JSON_BYTES, settings.catchUpMemoryBytes),
      waitMs: CATCH_UP_MEMORY_WAIT_MS
    },
    settleMs: SETTLE_MS,
    maxChannels: settings.maxChannelsPerConnection,
    presence: app.chatPresence,
    typing: app.chatTyping,
    readState: app.chatReadState,
    log: app.log
  }

  async function withinConnectionCap (request: FastifyRequest): Promise<void> {
    if (request.ws && !connections.hasRoom(claimsOf(request).id)) throw new TooManyConnections(connections.max)
  }

  const requireChannelAccess = app.chatRequireAccess((request) => (request.query as WsQuery).channel ?? '')
  async function checkChannel (request: FastifyRequest<{ Querystring: WsQuery }>, reply: FastifyReply): Promise<void> {
    const { channel, since } = request.query
    if (channel === undefined) {
      if (since !== undefined) throw new InvalidUpgrade('since needs a channel: ?channel=<id>&since=<message id> (or a subscribe frame)')
      return
    }
    await requireChannelAccess.call(app, request, reply)
  }

  // With Redis, this instance receives a channel only once it has subscribed to it. A client
  // whose socket opened before that would miss what is sent right after it connects, its own
  // REST posts included, so the upgrade waits (briefly) until the channel is live here.
  const holds = new WeakMap<object, () => void>()
  async function liveBeforeOpen (request: FastifyRequest<{ Querystring: WsQuery }>): Promise<void> {
    if (!request.ws || request.query.channel === undefined) return
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
      summary: 'Open a WebSocket for any number of channels',
      description: WS_DESCRIPTION,
      tags: ['websocket'],
      querystring: WsQuery,
      response: {
        101: { type: 'null', description: 'Switching Protocols: the WebSocket is open (frames in the description)' },
        400: errorResponse('Invalid `channel` or `since` (FST_ERR_VALIDATION), or `since` without `channel` (CHAT_INVALID_UPGRADE)'),
        401: Unauthorized,
        403: errorResponse('No access to the channel (CHAT_FORBIDDEN)'),
        426: errorResponse('A plain GET without Upgrade: websocket (CHAT_UPGRADE_REQUIRED)'),
        429: errorResponse('The user already has USER_MAX_CONNECTIONS WebSockets open on this instance (CHAT_TOO_MANY_CONNECTIONS)')
      }
    },
    onRequest: app.chatAuthenticate,
    preHandler: [checkChannel, withinConnectionCap, liveBeforeOpen],
    // A plain GET (no upgrade) gets an answer in the error shape rather than an empty 404.
    handler: async () => { throw new UpgradeRequired() },
    wsHandler: (socket, request) => {
      // Only plain values go on: closures kept for the socket's lifetime must not hold the request.
      releaseUpgradeResponse(socket)
      const { channel, since, presence } = request.query
      serveSocket(services, socket, { claims: claimsOf(request), channel, since, presence: presence === 'true' })
      const release = holds.get(request.raw)
      if (release !== undefined) {
        release()
        request.raw.socket.removeListener('close', release)
      }
    }
  })
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
