// Standalone start: build Fastify, register the chat plugin, close gracefully on signals, listen.
// Exit codes: 0 closed with every accepted message stored or saved; 1 could not start, or
// closed after an uncaught error; 2 accepted messages were lost (a log line counts them).
import Fastify from 'fastify'
import closeWithGrace from 'close-with-grace'
import chat from './app.js'
import { rawSettings } from './lib/settings.js'
import { replyNotFound } from './plugins/error-replies.js'

const EXIT_MESSAGES_LOST = 2
/** Requests still open this long into the close are cut: the steps that save messages wait for them. */
const REQUEST_GRACE_MS = 2_000
/**
 * The close steps other than the flush, each bounded: requests 2 s, Redis 1 s, messages being
 * accepted 1 s, the write in flight 1 s, the dead-letter append 5 s without progress, the
 * MongoDB client 1 s, jongodb 2 s; plus slack.
 */
const FORCE_EXIT_MARGIN_MS = 15_000

const { port = 8080, host = '0.0.0.0', logLevel = 'info', shutdownTimeoutMs = 10_000, chatPage = true } = rawSettings({}, process.env) as {
  port?: number, host?: string, logLevel?: string, shutdownTimeoutMs?: number, chatPage?: boolean | string
}

const app = Fastify({
  logger: {
    level: String(logLevel),
    // WebSocket clients may send their token as ?access_token=...: keep it out of the logs.
    serializers: { req: (request) => ({ method: request.method, url: redactToken(request.url), remoteAddress: request.ip }) }
  },
  return503OnClosing: true
})

function redactToken (url: string): string {
  return url.replace(/([?&]access_token=)[^&]*/g, '$1[redacted]')
}

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
