// Decorates `chatAuthenticate`, a preHandler that verifies the caller's JWT and sets
// `request.chatClaims`, and `chatRequireAccess`, which makes a preHandler checking the
// caller's access to a channel with the one access rule (`authorize` option or the seed's).
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import { canAccessChannel, type Authorize, type Claims } from '../lib/access.js'
import { Forbidden, Unauthorized } from '../lib/errors.js'
import { bearerToken, createTokenReader, subprotocolToken } from '../lib/token.js'
import type { ChatOptions } from '../app.js'

declare module 'fastify' {
  interface FastifyInstance {
    chatAuthenticate: preHandlerAsyncHookHandler
    chatAuthorize: Authorize
    chatRequireAccess: (channelOf: (request: FastifyRequest) => string) => preHandlerAsyncHookHandler
  }
  interface FastifyRequest {
    chatClaims: Claims | null
  }
}

async function auth (app: FastifyInstance, options: ChatOptions): Promise<void> {
  const { jwtSecret, jwtInsecureSkipVerify } = app.chatSettings
  if (jwtInsecureSkipVerify) {
    app.log.warn('JWT_INSECURE_SKIP_VERIFY is on: token signatures and expiry are NOT checked; only use this behind a gateway that verifies them')
  }
  const readToken = createTokenReader({ secret: jwtSecret, skipVerification: jwtInsecureSkipVerify })
  const authorize = options.authorize ?? canAccessChannel

  app.decorateRequest('chatClaims', null)
  app.decorate('chatAuthorize', authorize)

  app.decorate('chatAuthenticate', async function authenticate (request: FastifyRequest) {
    const token = requestToken(request)
    if (token === undefined) throw new Unauthorized('no bearer token')
    try {
      request.chatClaims = readToken(token)
    } catch (error) {
      throw new Unauthorized((error as Error).message)
    }
  })

  app.decorate('chatRequireAccess', (channelOf: (request: FastifyRequest) => string) =>
    async function requireAccess (request: FastifyRequest) {
      const channel = channelOf(request)
      if (!await authorize(claimsOf(request), channel)) throw new Forbidden(channel)
    })
}

/**
 * The Authorization header first; WebSocket upgrades may instead carry the token as a
 * subprotocol or an `access_token` query parameter, since browsers cannot set headers there.
 */
function requestToken (request: FastifyRequest): string | undefined {
  const fromHeader = bearerToken(request.headers.authorization)
  if (fromHeader !== undefined || !request.ws) return fromHeader
  const query = request.query as { access_token?: unknown }
  return subprotocolToken(request.headers['sec-websocket-protocol']) ??
    (typeof query.access_token === 'string' ? query.access_token : undefined)
}

/** The claims of an authenticated request; a route that calls this without chatAuthenticate is a bug. */
export function claimsOf (request: FastifyRequest): Claims {
  if (request.chatClaims === null) throw new Error('chatAuthenticate must run before this handler')
  return request.chatClaims
}

export default fp(auth, { name: 'chat-auth', dependencies: ['chat-settings'] })
