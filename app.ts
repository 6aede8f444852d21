// The chat service as a Fastify plugin. Standalone: see server.ts. Mounted:
//   host.register(chat, { prefix: '/chat', jwtSecret: '...' })
import { join } from 'node:path'
import autoload from '@fastify/autoload'
import sensible from '@fastify/sensible'
import websocket from '@fastify/websocket'
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import type { ChatOptions } from './lib/config/options.js'
import { ErrorResponse, WS_MAX_PAYLOAD } from './lib/protocol/schemas.js'
import settings from './plugins/settings.js'
import metrics from './plugins/metrics.js'
import deadLetter from './plugins/dead-letter.js'
import mongo from './plugins/mongo.js'
import auth from './plugins/auth.js'
import hub from './plugins/hub.js'
import tokenExpiry from './plugins/token-expiry.js'
import persistence from './plugins/persistence.js'
import fanout from './plugins/fanout.js'
import messageChanges from './plugins/message-changes.js'
import messages from './plugins/messages.js'
import signals from './plugins/signals.js'
import presence from './plugins/presence.js'
import typing from './plugins/typing.js'
import readState from './plugins/read-state.js'
import limits from './plugins/limits.js'
import routeRateLimits from './plugins/rate-limit.js'
import origins from './plugins/origins.js'
import chatPage from './plugins/chat-page.js'
import docs from './plugins/docs.js'
import lingeringClose from './plugins/lingering-close.js'
import { replyNotFound, replyWithError } from './plugins/error-replies.js'

export default async function chat (app: FastifyInstance, options: ChatOptions): Promise<void> {
  await app.register(settings, options)
  await app.register(metrics, options)
  // Before any route: an answer sent before the body has arrived must reach the client, not a reset.
  await app.register(lingeringClose)
  // Before MongoDB: an unusable dead-letter location stops the start before jongodb is spawned.
  await app.register(deadLetter)
  // Before @fastify/websocket, so that on close the hub's 1001 reaches clients first.
  await app.register(hub)
  if (!app.hasDecorator('httpErrors')) await app.register(sensible)
  if (!app.hasDecorator('websocketServer')) {
    await app.register(websocket, { options: { maxPayload: WS_MAX_PAYLOAD } })
  }
  await app.register(mongo)
  await app.register(auth, options)
  await app.register(tokenExpiry)
  await app.register(persistence)
  await app.register(fanout)
  await app.register(limits)
  await app.register(messageChanges)
  await app.register(messages)
  // Ephemeral events between instances, then what rides on them: presence, typing and read receipts.
  await app.register(signals)
  await app.register(presence)
  await app.register(typing)
  await app.register(readState)

  // TypeBox validation never coerces bodies: {"content": 5} is refused, not turned into "5".
  app.setValidatorCompiler(TypeBoxValidatorCompiler)
  app.setErrorHandler(replyWithError)
  app.addSchema(ErrorResponse)
  // Bodies are JSON only; Fastify's built-in text/plain parser would turn a 415 into a 400.
  app.removeContentTypeParser('text/plain')
  // Standalone, server.ts owns the root 404; mounted, the host owns its own.
  if (app.prefix !== '') app.setNotFoundHandler(replyNotFound)
  // After the error handler, before any route: every route of the service gets the Origin check and CORS.
  await app.register(origins)
  // Only an explicit option serves the page (server.ts passes CHAT_PAGE): a host's env does not.
  if (options.chatPage !== undefined && app.chatSettings.chatPage === true) await app.register(chatPage)

  await app.register(routeRateLimits)
  await app.register(docs)
  // Only the service's own (empty) options go down: the host's prefix is already applied.
  await app.register(autoload, { dir: join(import.meta.dirname, 'routes'), options: {} })
}

export { chat }
export type { Claims, Authorize } from './lib/auth/access.js'
export type { Settings } from './lib/config/settings.js'
export type { ChatOptions } from './lib/config/options.js'
export type { ChatMessage } from './lib/messages/message.js'
