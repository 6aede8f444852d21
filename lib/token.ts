import { createDecoder, createVerifier } from 'fast-jwt'
import { readClaims, type Claims } from './access.js'

export interface TokenReaderOptions {
  secret?: string
  /** The seed's parse-only mode: decode without checking signature or expiry. Unsafe. */
  skipVerification: boolean
}

/** Returns a function that turns a raw JWT into Claims, or throws an Error saying why it cannot. */
export function createTokenReader (options: TokenReaderOptions): (token: string) => Claims {
  const decode = options.skipVerification
    ? createDecoder()
    : createVerifier({ key: requireSecret(options.secret), algorithms: ['HS256'], cache: 1_000 })
  return (token) => {
    let payload: unknown
    try {
      payload = decode(token)
    } catch (error) {
      throw new Error((error as Error).message)
    }
    const claims = readClaims(payload)
    if (typeof claims === 'string') throw new Error(claims)
    return claims
  }
}

function requireSecret (secret: string | undefined): string {
  if (!secret) throw new Error('JWT_SECRET is required to verify tokens')
  return secret
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
