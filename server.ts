// Standalone start: build Fastify, register the chat plugin, close gracefully on signals, listen.
import Fastify from 'fastify'
import closeWithGrace from 'close-with-grace'
import chat from './app.js'
import { rawSettings } from './lib/settings.js'
import { replyNotFound } from './plugins/error-replies.js'

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

closeWithGrace({ delay: Number(shutdownTimeoutMs) + 5_000 }, async ({ signal, err }) => {
  if (err !== undefined) app.log.error({ err }, 'closing after an error')
  else app.log.info({ signal }, 'closing')
  await app.close()
})

try {
  await app.listen({ port: Number(port), host: String(host) })
} catch (error) {
  app.log.fatal({ err: error }, 'could not start')
  process.exit(1)
}
