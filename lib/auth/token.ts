import { createPublicKey, KeyObject } from 'node:crypto'
import { createDecoder, createVerifier, TokenError, type Algorithm } from 'fast-jwt'
import type { JWSHeaderParameters } from 'jose'
import { LRUCache } from 'lru-cache'
import { readClaims, type Claims } from './access.js'
import { Unauthorized, Unavailable } from '../protocol/errors.js'
import { KeySourceUnavailable, type JwksKeySource } from './jwks.js'

export interface TokenVerifierOptions {
  /** HS256 shared secret. */
  secret?: string
  /** One public key, as readPublicKey gives it, for the asymmetric algorithms of its type. */
  publicKey?: string
  /** An identity provider's key set, for the asymmetric algorithms. */
  jwks?: JwksKeySource
  /** Accepted `iss` values; unset or empty: not checked. */
  issuers?: string[]
  /** Accepted `aud` values (a token's `aud` may be an array holding one of them); unset or empty: not checked. */
  audiences?: string[]
  /** Leeway for `exp` and `nbf`. */
  clockToleranceS: number
  /** How many verified tokens are remembered until they expire; 0 verifies every time. */
  cacheSize: number
  /** The seed's parse-only mode: decode without checking signature or expiry. Unsafe. */
  skipVerification: boolean
  /** The claim (or dotted path to a nested claim) holding the token's roles; `roles` when unset. */
  rolesClaim?: string
}

/**
 * Turns a raw JWT into Claims. Throws `Unauthorized` (401) when the token is at fault, and
 * `Unavailable` (503) when it cannot be checked because the key source cannot be reached.
 */
export type VerifyToken = (token: string) => Promise<Claims>

const ASYMMETRIC_ALGORITHMS: Algorithm[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']
const PUBLIC_KEY_TYPES = ['rsa', 'rsa-pss', 'ec', 'ed25519']
/** A remembered token is checked again after this, so a key removed from a JWKS stops working in bounded time. */
const MAX_CACHE_AGE_MS = 10 * 60_000

export function createTokenVerifier (options: TokenVerifierOptions): VerifyToken {
  if (options.skipVerification) return async (token) => withoutExpiry(claimsOf(decode(token), options.rolesClaim))
  const verify = signatureVerifier(options)
  if (options.cacheSize === 0) return verify
  const verified = new LRUCache<string, Claims>({ max: options.cacheSize })
  return async (token) => {
    const remembered = verified.get(token)
    if (remembered !== undefined) return remembered
    const claims = await verify(token)
    verified.set(token, claims, { ttl: rememberFor(claims, options.clockToleranceS) })
    return claims
  }
}

/**
 * fast-jwt checks signatures and claims with node:crypto on the calling thread. There is one
 * verifier per kind of key, each allowing only the algorithms its key's type can check, and
 * the token's header picks the verifier.
 */
function signatureVerifier (options: TokenVerifierOptions): VerifyToken {
  const issuers = nonEmpty(options.issuers)
  const audiences = nonEmpty(options.audiences)
  const claimChecks = {
    allowedIss: issuers,
    allowedAud: audiences,
    requiredClaims: [...(issuers === undefined ? [] : ['iss']), ...(audiences === undefined ? [] : ['aud'])],
    clockTolerance: options.clockToleranceS * 1000
  }
  const bySecret = options.secret === undefined ? undefined : createVerifier({ key: options.secret, algorithms: ['HS256'], ...claimChecks })
  // Without `algorithms`, fast-jwt allows exactly those that fit the key's type (and curve).
  const byPublicKey = options.publicKey === undefined ? undefined : createVerifier({ key: options.publicKey, ...claimChecks })
  const { jwks } = options
  const byJwks = jwks === undefined
    ? undefined
    : createVerifier({
      key: async ({ header }: { header: JWSHeaderParameters }) => pemOf(await jwks.key(header)),
      algorithms: ASYMMETRIC_ALGORITHMS,
      ...claimChecks
    })
  const readHeader = createDecoder({ complete: true })

  return async (token) => {
    try {
      const { header } = readHeader(token) as { header: JWSHeaderParameters }
      let payload: unknown
      if (header.alg === 'HS256') {
        payload = (bySecret ?? refuse('HS256 tokens are not accepted: there is no JWT_SECRET'))(token)
      } else if (byPublicKey !== undefined && (header.kid === undefined || byJwks === undefined)) {
        // With both a public key and a JWKS, a token naming a `kid` is for the JWKS.
        payload = byPublicKey(token)
      } else if (byJwks !== undefined && ASYMMETRIC_ALGORITHMS.includes(header.alg as Algorithm)) {
        // The alg is checked before any key is fetched: `alg: none` is a 401 even while the JWKS is down.
        payload = await byJwks(token)
      } else {
        refuse(`${String(header.alg)} tokens are not accepted`)
      }
      return Object.freeze(claimsOf(payload, options.rolesClaim))
    } catch (error) {
      if (!(error instanceof TokenError)) throw error
      const cause = (error.originalError as Error | undefined) ?? error
      if (cause instanceof KeySourceUnavailable) throw new Unavailable(`token cannot be checked now: ${cause.message}`)
      throw new Unauthorized(cause.message)
    }
  }
}

function refuse (reason: string): never {
  throw new TokenError(TokenError.codes.invalidAlgorithm, reason)
}

/** jose hands out the same CryptoKey for a key of the set each time, so its PEM is made once. */
const pems = new WeakMap<CryptoKey, string>()
function pemOf (key: CryptoKey): string {
  let pem = pems.get(key)
  if (pem === undefined) {
    pem = KeyObject.from(key).export({ type: 'spki', format: 'pem' }) as string
    pems.set(key, pem)
  }
  return pem
}

/**
 * A PEM public key (SPKI or PKCS#1), returned as SPKI PEM. `\n` escapes, as one-line
 * environment variables carry them, count as newlines.
 */
export function readPublicKey (pem: string): string {
  const key = createPublicKey(pem.replace(/\\n/g, '\n'))
  if (!PUBLIC_KEY_TYPES.includes(key.asymmetricKeyType ?? '')) {
    throw new Error(`${key.asymmetricKeyType} keys are not supported: give an RSA, EC (P-256, P-384, P-521) or Ed25519 key`)
  }
  return key.export({ type: 'spki', format: 'pem' }) as string
}

/** "a, b" -> ['a', 'b'] */
export function commaList (value: string | undefined): string[] | undefined {
  return value?.split(',').map((item) => item.trim()).filter((item) => item !== '')
}

const decodePayload = createDecoder()

function decode (token: string): unknown {
  try {
    return decodePayload(token)
  } catch (error) {
    throw new Unauthorized((error as Error).message)
  }
}

function claimsOf (payload: unknown, rolesClaim: string | undefined): Claims {
  const claims = readClaims(payload, rolesClaim)
  if (typeof claims === 'string') throw new Unauthorized(claims)
  return claims
}

/** Parse-only mode does not enforce `exp`, so neither does anything downstream. */
function withoutExpiry ({ exp: _exp, ...claims }: Claims): Claims {
  return claims
}

function rememberFor (claims: Claims, clockToleranceS: number): number {
  if (claims.exp === undefined) return MAX_CACHE_AGE_MS
  // At least 1 ms: a ttl of 0 would mean "forever" to lru-cache.
  return Math.max(1, Math.min(MAX_CACHE_AGE_MS, (claims.exp + clockToleranceS) * 1000 - Date.now()))
}

function nonEmpty (values: string[] | undefined): string[] | undefined {
  return values === undefined || values.length === 0 ? undefined : values
}

const bearerPattern = /^Bearer +(\S+)$/i
const protocolTokenMarker = 'access_token'

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerToken (header: string | undefined): string | undefined {
  return header ? bearerPattern.exec(header)?.[1] : undefined
}

/**
 * Browsers cannot set headers on a WebSocket, but they can offer subprotocols:
 * `new WebSocket(url, ['access_token', token])` sends `Sec-WebSocket-Protocol: access_token, <token>`.
 */
export function subprotocolToken (header: string | undefined): string | undefined {
  if (!header) return undefined
  const protocols = header.split(',').map((protocol) => protocol.trim())
  const marker = protocols.indexOf(protocolTokenMarker)
  return marker === -1 ? undefined : protocols[marker + 1]
}
