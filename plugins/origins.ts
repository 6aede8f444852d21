// Hooks `onRequest`: a request whose `Origin` is not allowed (ALLOWED_ORIGINS; the same origin
// when unset) is refused with 403 before anything else runs, so a WebSocket upgrade from a page
// on another origin never opens. Requests without `Origin` (servers, apps, CLI tools) pass.
// CORS headers for the allowed origins come from @fastify/cors: an instance of the service's
// own, or, when the host already registered one, the host's (whose hook also runs here).
import cors, { type FastifyCorsOptions } from '@fastify/cors'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { OriginNotAllowed } from '../lib/protocol/errors.js'
import { envName } from '../lib/config/settings.js'
import { isOriginAllowed, originPolicy, type OriginPolicy } from '../lib/auth/origins.js'

const PREFLIGHT_MAX_AGE_SECONDS = 600

async function origins (app: FastifyInstance): Promise<void> {
  const policy = readPolicy(app.chatSettings.allowedOrigins)
  const corsOptions = corsOptionsOf(policy)
  // @fastify/cors lets a route's `config.cors` override the options of whichever instance runs:
  // set on every route of the service, it makes a host's instance apply the service's policy
  // here, while the host's own routes keep the host's.
  app.addHook('onRoute', (route) => { route.config = { ...route.config, cors: corsOptions } as typeof route.config })
  // Before the CORS hook: a preflight from another origin is refused too, not answered without headers.
  app.addHook('onRequest', async (request) => {
    const origin = request.headers.origin
    if (origin !== undefined && !isOriginAllowed(policy, origin, request.host)) throw new OriginNotAllowed(origin)
  })
  if (app.hasRequestDecorator('corsPreflightEnabled')) {
    answerPreflightsWithTheHostsCors(app)
  } else {
    await app.register(cors, corsOptions)
  }
}

function readPolicy (setting: string | undefined): OriginPolicy {
  try {
    return originPolicy(setting)
  } catch (error) {
    throw new Error(`Invalid chat service setting: ${envName('allowedOrigins')} (option allowedOrigins): ${(error as Error).message}`)
  }
}

/** Every option a host's instance could otherwise lend the service's routes is given. */
function corsOptionsOf (policy: OriginPolicy): FastifyCorsOptions {
  return {
    // Same origin only: browsers need no CORS headers, and other origins are refused anyway.
    origin: policy.kind === 'any' ? '*' : policy.kind === 'list' ? policy.origins : false,
    methods: ['GET', 'HEAD', 'POST'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key'],
    exposedHeaders: ['Retry-After'],
    credentials: false,
    maxAge: PREFLIGHT_MAX_AGE_SECONDS,
    cacheControl: undefined,
    preflight: true,
    strictPreflight: true,
    preflightContinue: false,
    optionsSuccessStatus: 204
  }
}

/**
 * The host's @fastify/cors answers preflights in its hook, but only for a path that has an
 * OPTIONS route: this one, under the service's prefix, carries the service's options. Without
 * a prefix the host's own `OPTIONS /*` is that route, and the host's options answer preflights.
 */
function answerPreflightsWithTheHostsCors (app: FastifyInstance): void {
  if (app.hasRoute({ method: 'OPTIONS', url: `${app.prefix}/*` })) return
  app.options('/*', (_request, reply) => { reply.callNotFound() })
}

export default fp(origins, { name: 'chat-origins', dependencies: ['chat-settings'] })
