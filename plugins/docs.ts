// Registers @fastify/swagger, which makes an OpenAPI 3 document of the service's route schemas,
// at GET /docs/json, and @fastify/swagger-ui, a viewer at GET /docs whose assets come from the
// package (no CDN). DOCS=false leaves both out. A host that registered @fastify/swagger itself
// already documents the chat's routes in its own document, so then the service adds neither.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import swagger, { type FastifyDynamicSwaggerOptions } from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'

const BEARER = 'bearerAuth'

async function docs (app: FastifyInstance): Promise<void> {
  if (!app.chatSettings.docs) return
  if (app.hasDecorator('swagger')) {
    app.log.info('the host registered @fastify/swagger: the chat routes are in its document, and the service serves no /docs of its own')
    return
  }
  const authenticate = app.chatAuthenticate
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Chat service',
        version: packageVersion(),
        description: 'Real-time one-to-one and group chat over WebSocket and REST. Users and groups are the channels; identity comes from an HS256 JWT with `id` and `groups` claims.'
      },
      components: { securitySchemes: { [BEARER]: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      tags: [
        { name: 'messages', description: 'Sending, reading and counting' },
        { name: 'read-state', description: 'Read markers, "seen by" and unread counts' },
        { name: 'websocket', description: 'Live delivery' },
        { name: 'operations', description: 'Health, readiness and metrics' }
      ]
    },
    // The shared error schema is the component "ChatError" rather than "def-0".
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, index) => typeof json.$id === 'string' ? json.$id : `def-${index}` },
    // Security follows the routes' real hooks, so it cannot drift from what is checked.
    transform: ({ schema, url, route }) => ({
      url,
      schema: usesHandler(route.onRequest, authenticate) || usesHandler(route.preHandler, authenticate)
        ? { ...schema, security: [{ [BEARER]: [] }] }
        : schema
    })
  } satisfies FastifyDynamicSwaggerOptions)
  // Mounted under a prefix, the page at /docs (no trailing slash) needs the prefix to find its assets.
  await app.register(swaggerUi, { routePrefix: '/docs', indexPrefix: app.prefix })
}

function usesHandler (hooks: unknown, handler: unknown): boolean {
  return Array.isArray(hooks) ? hooks.includes(handler) : hooks === handler
}

/** The service's version, from its package.json (next to app.ts, or one level up from dist/). */
function packageVersion (): string {
  for (let folder = import.meta.dirname, up = 0; up < 3; folder = dirname(folder), up++) {
    const file = join(folder, 'package.json')
    if (!existsSync(file)) continue
    const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: string, version?: string }
    if (manifest.name === 'fastify-chat-service' && manifest.version !== undefined) return manifest.version
  }
  return '0.0.0'
}

export default fp(docs, { name: 'chat-docs', dependencies: ['chat-settings', 'chat-auth'] })
