// Standalone start: build Fastify, register the chat plugin, close gracefully on signals, listen.
// Exit codes: 0 closed with every accepted message stored or saved; 1 could not start, or
// closed after an uncaught error; 2 accepted messages were lost (a log line counts them).
import Fastify from 'fastify'
import closeWithGrace from 'close-with-grace'
import chat from './app.js'
import { redactTokens } from './lib/auth/redact.js'
import { rawSettings } from './lib/config/settings.js'
import { replyNotFound } from './plugins/error-replies.js'
import lingeringClose from './plugins/lingering-close.js'

const EXIT_MESSAGES_LOST = 2
/** Requests still open this long into the close are cut: the steps that save messages wait for them. */
const REQUEST_GRACE_MS = 2_000
/**
 * The close steps other than the flush, each bounded: requests 2 s, Redis 1 s, messages being
 * accepted 1 s, the write in flight 1 s, the dead-letter append 5 s without progress, the
 * MongoDB client 1 s, jongodb 2 s; plus slack.
 */
const FORCE_EXIT_MARGIN_MS = 15_000

/** Headers must all have arrived this long after a request starts (or REQUEST_TIMEOUT_MS, if shorter). */
const HEADERS_TIMEOUT_MS = 10_000

const { port = 8080, host = '0.0.0.0', logLevel = 'info', shutdownTimeoutMs = 10_000, chatPage = true, requestTimeoutMs = 20_000 } = rawSettings({}, process.env) as {
  port?: number, host?: string, logLevel?: string, shutdownTimeoutMs?: number, chatPage?: boolean | string, requestTimeoutMs?: number
}
const requestTimeout = Number(requestTimeoutMs)

const app = Fastify({
  logger: {
    level: String(logLevel),
    // WebSocket clients may send their token as ?access_token=... (or spelled %61ccess_token): keep it out of the logs.
    serializers: { req: (request) => ({ method: request.method, url: redactTokens(request.url), remoteAddress: request.ip }) },
    // Plugins log URLs under their own names too (@fastify/websocket: `path`, for an upgrade on a plain route).
    formatters: { log: redactUrlFields }
  },
  // A client that never finishes its request (headers or body) is cut off rather than held.
  // Idle kept-alive connections: Fastify's keepAliveTimeout, 72 s, longer than load balancers' usual 60 s.
  requestTimeout,
  // Node checks those timeouts every connectionsCheckingInterval (30 s by default).
  http: {
    headersTimeout: Math.min(HEADERS_TIMEOUT_MS, requestTimeout),
    connectionsCheckingInterval: Math.min(5_000, Math.ceil(requestTimeout / 4))
  },
  return503OnClosing: true
})

function redactUrlFields (entry: Record<string, unknown>): Record<string, unknown> {
  for (const field of ['url', 'path']) {
    const value = entry[field]
    if (typeof value === 'string') entry[field] = redactTokens(value)
  }
  return entry
}

// An upgrade answered over HTTP here (no such route) has a socket that Node's HTTP server no
// longer reads or times out: close it once the answer is out.
app.addHook('onResponse', async (request) => {
  if (request.headers.upgrade !== undefined) request.raw.socket.destroySoon()
})

// The server's own answers too (its 404s), not only the service's: see plugins/lingering-close.ts.
app.register(lingeringClose)
// Standalone, the chat page is on unless CHAT_PAGE=false (validated with the other settings).
app.register(chat, { chatPage: chatPage as boolean })
app.setNotFoundHandler(replyNotFound)

const forceExitDelayMs = Number(shutdownTimeoutMs) + FORCE_EXIT_MARGIN_MS
closeWithGrace({
  delay: forceExitDelayMs,
  logger: app.log,
  onTimeout () {
    const waiting = app.hasDecorator('chatWriter') ? app.chatWriter.depth : 0
    app.log.fatal({ count: waiting }, `closing took longer than ${forceExitDelayMs} ms: forced exit; messages still waiting to be written are lost`)
    process.exit(waiting > 0 ? EXIT_MESSAGES_LOST : 1)
  }
}, async ({ signal, err }) => {
  if (err !== undefined) app.log.error({ err }, 'closing after an error')
  else app.log.info({ signal }, 'closing')
  const cutRequests = setTimeout(() => app.server.closeAllConnections(), REQUEST_GRACE_MS)
  try {
    await app.close()
  } catch (error) {
    // Already logged with its count by the step that failed.
    if ((error as { code?: string }).code === 'CHAT_MESSAGES_NOT_SAVED') process.exit(EXIT_MESSAGES_LOST)
    throw error
  } finally {
    clearTimeout(cutRequests)
  }
})

try {
  await app.listen({ port: Number(port), host: String(host) })
} catch (error) {
  app.log.fatal({ err: error }, 'could not start')
  process.exit(1)
}
