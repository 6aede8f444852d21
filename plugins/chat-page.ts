// Serves the chat page: GET / (under the service's prefix) with its static files from public/,
// and the built client module it imports, from dist/client, at /client/ (with the protocol file
// it imports in turn, at /lib/protocol/wire.js). The standalone server
// registers it unless CHAT_PAGE=false; a mounted service only with the option chatPage: true.
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'

// The package's own export resolves to dist/client whether this file runs from dist/ or from source.
const clientDirectory = dirname(fileURLToPath(import.meta.resolve('fastify-chat-service/client')))
const pageDirectory = join(clientDirectory, '..', '..', 'public')

/** The page runs only its own scripts and talks only to its own origin, whatever a message holds. */
const PAGE_SECURITY_POLICY = "default-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

async function chatPage (app: FastifyInstance): Promise<void> {
  const page = await readFile(join(pageDirectory, 'index.html'))
  app.get('/', async (request, reply) => {
    const [path, query] = splitUrl(request.url)
    // Mounted at /chat, the page must be /chat/: its relative links resolve against the slash.
    if (!path.endsWith('/')) return reply.redirect(`${path}/${query}`, 301)
    return reply.type('text/html; charset=utf-8').header('content-security-policy', PAGE_SECURITY_POLICY).send(page)
  })
  // One route per file found at start (no wildcard), and no reply decorators a host may already have.
  const files = { wildcard: false, index: false, decorateReply: false } as const
  await app.register(fastifyStatic, { ...files, root: pageDirectory, prefix: '/', globIgnore: ['index.html'] })
  const protocolFile = join(clientDirectory, '..', 'lib', 'protocol', 'wire.js')
  if (existsSync(join(clientDirectory, 'index.js')) && existsSync(protocolFile)) {
    await app.register(fastifyStatic, { ...files, root: clientDirectory, prefix: '/client/', globIgnore: ['**/*.d.ts'] })
    const protocol = await readFile(protocolFile)
    app.get('/lib/protocol/wire.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(protocol))
  } else {
    app.log.warn({ directory: clientDirectory }, 'the chat page needs the built client module: run npm run build')
  }
}

function splitUrl (url: string): [string, string] {
  const start = url.indexOf('?')
  return start === -1 ? [url, ''] : [url.slice(0, start), url.slice(start)]
}

export default fp(chatPage, { name: 'chat-page', dependencies: ['chat-origins'] })
