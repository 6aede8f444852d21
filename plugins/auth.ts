// Decorates `chatAuthenticate`, a preHandler that verifies the caller's JWT and sets
// `request.chatClaims`, and `chatRequireAccess`, which makes a preHandler checking the
// caller's access to a channel with the one access rule (`authorize` option or the seed's).
// Tokens are HS256 with JWT_SECRET, or RS/PS/ES/EdDSA with JWT_PUBLIC_KEY or an identity
// provider's JWKS (JWT_JWKS_URL), which is fetched in the background: start-up never waits for it.
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import { canAccessChannel, claimsOf, type Authorize, type Claims } from '../lib/auth/access.js'
import { Forbidden, Unauthorized } from '../lib/protocol/errors.js'
import { JwksKeySource } from '../lib/auth/jwks.js'
import type { Settings } from '../lib/config/settings.js'
import { bearerToken, commaList, createTokenVerifier, readPublicKey, subprotocolToken, type VerifyToken } from '../lib/auth/token.js'
import type { ChatOptions } from '../lib/config/options.js'

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
  if (app.chatSettings.jwtInsecureSkipVerify) {
    app.log.warn('JWT_INSECURE_SKIP_VERIFY is on: token signatures and expiry are NOT checked; only use this behind a gateway that verifies them')
  }
  const verifyToken = tokenVerifier(app.chatSettings, app)
  const authorize = options.authorize ?? canAccessChannel

  app.decorateRequest('chatClaims', null)
  app.decorate('chatAuthorize', authorize)

  app.decorate('chatAuthenticate', async function authenticate (request: FastifyRequest) {
    const token = requestToken(request)
    if (token === undefined) throw new Unauthorized('no bearer token')
    request.chatClaims = await verifyToken(token)
  })

  app.decorate('chatRequireAccess', (channelOf: (request: FastifyRequest) => string) =>
    async function requireAccess (request: FastifyRequest) {
      const channel = channelOf(request)
      if (!await authorize(claimsOf(request), channel)) throw new Forbidden(channel)
    })
}

function tokenVerifier (settings: Settings, app: FastifyInstance): VerifyToken {
  let jwks: JwksKeySource | undefined
  if (settings.jwtJwksUrl !== undefined) {
    const url = settings.jwtJwksUrl
    jwks = new JwksKeySource({
      url,
      cooldownMs: settings.jwtJwksCooldownMs,
      onFetchError: (error) => app.log.warn({ err: error, url }, 'the JWKS could not be fetched; tokens that need a key from it answer 503')
    })
    jwks.prefetch()
  }
  return createTokenVerifier({
    secret: settings.jwtSecret,
    publicKey: settings.jwtPublicKey === undefined ? undefined : publicKeySetting(settings.jwtPublicKey),
    jwks,
    issuers: commaList(settings.jwtIssuer),
    audiences: commaList(settings.jwtAudience),
    clockToleranceS: settings.jwtClockToleranceS,
    cacheSize: settings.jwtCacheSize,
    skipVerification: settings.jwtInsecureSkipVerify,
    rolesClaim: settings.jwtRolesClaim
  })
}

function publicKeySetting (pem: string): string {
  try {
    return readPublicKey(pem)
  } catch (error) {
    throw new Error(`Invalid chat service setting: JWT_PUBLIC_KEY (option jwtPublicKey) is not a usable PEM public key: ${(error as Error).message}`)
  }
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

export default fp(auth, { name: 'chat-auth', dependencies: ['chat-settings'] })
