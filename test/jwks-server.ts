// An identity provider for tests: signing keys, tokens signed with them, and their public keys
// published as a JSON Web Key Set over real HTTP on 127.0.0.1. It counts fetches and can go down.
import { createServer } from 'node:http'
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK } from 'jose'

type Test = { teardown (fn: () => unknown): void }

export interface SigningKey {
  kid: string
  alg: string
  privateKey: CryptoKey
  publicKey: CryptoKey
  /** The public key as published in the JWKS. */
  jwk: JWK
  /** The public key as PEM (SPKI), for JWT_PUBLIC_KEY. */
  pem: string
}

export async function signingKey (alg: string, kid = `${alg.toLowerCase()}-${Math.random().toString(36).slice(2, 8)}`): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  return { kid, alg, privateKey, publicKey, jwk: { ...await exportJWK(publicKey), kid, alg, use: 'sig' }, pem: await exportSPKI(publicKey) }
}

/** A token signed with the key, its `kid` in the header unless `header` says otherwise. */
export function signWith (key: SigningKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, ...header }).sign(key.privateKey)
}

export interface JwksServer {
  url: string
  /** How many times the set was fetched. */
  readonly fetches: number
  /** Replaces the published keys. */
  publish (keys: SigningKey[]): void
  /** Every fetch fails (the connection is cut) until up(). */
  down (): void
  up (): void
}

export async function startJwksServer (t: Test, keys: SigningKey[]): Promise<JwksServer> {
  let published = keys
  let fetches = 0
  let isDown = false
  const server = createServer((request, response) => {
    if (request.url !== '/.well-known/jwks.json') {
      response.writeHead(404).end()
      return
    }
    fetches++
    if (isDown) {
      request.socket.destroy()
      return
    }
    response.writeHead(200, { 'content-type': 'application/jwk-set+json' })
    response.end(JSON.stringify({ keys: published.map((key) => key.jwk) }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get fetches () { return fetches },
    publish (keys) { published = keys },
    down () { isDown = true },
    up () { isDown = false }
  }
}
