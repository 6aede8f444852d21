import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto'
import { decodeJwt, errors, jwtVerify, type FlattenedJWSInput, type JWSHeaderParameters, type JWTVerifyOptions } from 'jose'
import { LRUCache } from 'lru-cache'
import { readClaims, type Claims } from './access.js'
import { Unauthorized, Unavailable } from './errors.js'
import { KeySourceUnavailable, type JwksKeySource } from './jwks.js'

export interface TokenVerifierOptions {
  /** HS256 shared secret. */
  secret?: string
  /** One public key (from readPublicKey) for the asymmetric algorithms. */
  publicKey?: KeyObject
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
}

/**
 * Turns a raw JWT into Claims. Throws `Unauthorized` (401) when the token is at fault, and
 * `Unavailable` (503) when it cannot be checked because the key source cannot be reached.
 */
export type VerifyToken = (token: string) => Promise<Claims>

/** Each is only ever checked with a key of its own type: jose refuses any other pairing. */
const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']
const PUBLIC_KEY_TYPES = ['rsa', 'rsa-pss', 'ec', 'ed25519']
/** A remembered token is checked again after this, so a key removed from a JWKS stops working in bounded time. */
const MAX_CACHE_AGE_MS = 10 * 60_000

export function createTokenVerifier (options: TokenVerifierOptions): VerifyToken {
  if (options.skipVerification) return async (token) => withoutExpiry(claimsOf(decode(token)))
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

function signatureVerifier (options: TokenVerifierOptions): VerifyToken {
  const { publicKey, jwks } = options
  // A KeyObject, not bytes: jose then imports it for WebCrypto once, not on every verification.
  const secret = options.secret === undefined ? undefined : createSecretKey(Buffer.from(options.secret))
  const verifyOptions: JWTVerifyOptions = {
    algorithms: [...(secret === undefined ? [] : ['HS256']), ...(publicKey === undefined && jwks === undefined ? [] : ASYMMETRIC_ALGORITHMS)],
    issuer: nonEmpty(options.issuers),
    audience: nonEmpty(options.audiences),
    clockTolerance: options.clockToleranceS
  }
  // Only called for an allowed alg, so the secret or a key source exists for it. With both a
  // public key and a JWKS, a token naming a `kid` is for the JWKS.
  const keyFor = (header: JWSHeaderParameters, token: FlattenedJWSInput): KeyObject | Promise<CryptoKey | Uint8Array> => {
    if (header.alg === 'HS256') return secret!
    if (publicKey !== undefined && (header.kid === undefined || jwks === undefined)) return publicKey
    return jwks!.key(header, token)
  }
  return async (token) => {
    try {
      return Object.freeze(claimsOf((await jwtVerify(token, keyFor, verifyOptions)).payload))
    } catch (error) {
      if (error instanceof KeySourceUnavailable) throw new Unavailable(`token cannot be checked now: ${error.message}`)
      // TypeError: jose refusing a key of the wrong type for the token's alg.
      if (error instanceof errors.JOSEError || error instanceof TypeError) throw new Unauthorized(error.message)
      throw error
    }
  }
}

/** A PEM public key (SPKI or PKCS#1). `\n` escapes, as one-line environment variables carry them, count as newlines. */
export function readPublicKey (pem: string): KeyObject {
  const key = createPublicKey(pem.replace(/\\n/g, '\n'))
  if (!PUBLIC_KEY_TYPES.includes(key.asymmetricKeyType ?? '')) {
    throw new Error(`${key.asymmetricKeyType} keys are not supported: give an RSA, EC (P-256, P-384, P-521) or Ed25519 key`)
  }
  return key
}

/** "a, b" -> ['a', 'b'] */
export function commaList (value: string | undefined): string[] | undefined {
  return value?.split(',').map((item) => item.trim()).filter((item) => item !== '')
}

function decode (token: string): unknown {
  try {
    return decodeJwt(token)
  } catch (error) {
    throw new Unauthorized((error as Error).message)
  }
}

function claimsOf (payload: unknown): Claims {
  const claims = readClaims(payload)
  if (typeof claims === 'string') throw new Unauthorized(claims)
  return claims
}

/** Parse-only mode does not enforce `exp`, so neither does anything downstream. */
function withoutExpiry ({ id, groups }: Claims): Claims {
  return { id, groups }
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
