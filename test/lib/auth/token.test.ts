import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { createTokenVerifier, readPublicKey, type TokenVerifierOptions } from '../../../lib/auth/token.js'
import { signingKey, signWith } from '../../jwks-server.js'

const member = { id: 'alice', groups: ['team'] }
const nowS = (): number => Math.floor(Date.now() / 1000)

async function verifierFor (alg: string, options: Partial<TokenVerifierOptions> = {}) {
  const key = await signingKey(alg)
  const verify = createTokenVerifier({
    publicKey: readPublicKey(key.pem),
    clockToleranceS: 0,
    cacheSize: 100,
    skipVerification: false,
    ...options
  })
  return { key, verify }
}

t.test('a verified token is remembered: the same token is not checked again', async (t) => {
  const { key, verify } = await verifierFor('ES256')
  const jwt = await signWith(key, { ...member, exp: nowS() + 60 })
  const first = await verify(jwt)
  t.match(first, { ...member, exp: Number })
  t.equal(await verify(jwt), first, 'the remembered claims')
  const { key: other, verify: uncached } = await verifierFor('ES256', { cacheSize: 0 })
  const otherJwt = await signWith(other, member)
  t.not(await uncached(otherJwt), await uncached(otherJwt), 'with cacheSize 0 every call verifies')
})

t.test('a remembered token is refused once it expires', async (t) => {
  const { key, verify } = await verifierFor('RS256')
  const jwt = await signWith(key, { ...member, exp: nowS() + 1 })
  t.ok(await verify(jwt))
  await new Promise((resolve) => setTimeout(resolve, (nowS() + 2) * 1000 - Date.now()))
  await t.rejects(verify(jwt), { statusCode: 401, code: 'CHAT_UNAUTHORIZED', message: /expired/ })
})

t.test('the clock tolerance accepts a token that expired within it', async (t) => {
  const { key, verify } = await verifierFor('EdDSA', { clockToleranceS: 30 })
  t.match(await verify(await signWith(key, { ...member, exp: nowS() - 10 })), member)
  await t.rejects(verify(await signWith(key, { ...member, exp: nowS() - 60 })), { statusCode: 401, code: 'CHAT_UNAUTHORIZED' })
  await t.rejects(verify(await signWith(key, { ...member, nbf: nowS() + 60 })), { statusCode: 401, code: 'CHAT_UNAUTHORIZED', message: /will be active/ })
})

t.test('public keys: PEM with \\n escapes; unsupported key types are refused', async (t) => {
  const key = await signingKey('PS256')
  t.equal(readPublicKey(key.pem.replace(/\n/g, '\\n')), readPublicKey(key.pem))
  const dsa = generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 })
  t.throws(() => readPublicKey(dsa.publicKey.export({ type: 'spki', format: 'pem' }) as string), /dsa keys are not supported/)
  t.throws(() => readPublicKey('not a key'))
})

t.test('parse-only mode neither checks nor passes on exp', async (t) => {
  const verify = createTokenVerifier({ clockToleranceS: 0, cacheSize: 0, skipVerification: true })
  const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const claims = await verify(`${base64url({ alg: 'none' })}.${base64url({ ...member, exp: nowS() - 3600 })}.`)
  t.same(claims, member)
  await t.rejects(verify('garbage'), { statusCode: 401, code: 'CHAT_UNAUTHORIZED' })
})
