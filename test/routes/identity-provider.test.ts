import t from 'tap'
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import { SignJWT } from 'jose'
import chat from '../../app.js'
import { buildService, Client, eventually, freePort, post, sleep, startMongo, token, upgradeStatus } from '../helper.js'
import { signingKey, signWith, startJwksServer } from '../jwks-server.js'

const member = { id: 'alice', groups: ['team'] }
const issuer = 'https://id.example.com/realms/chat'
const audience = 'chat-service'
const nowS = (): number => Math.floor(Date.now() / 1000)
const claims = (extra: Record<string, unknown> = {}) => ({ ...member, iss: issuer, aud: audience, exp: nowS() + 300, ...extra })
const bearerOf = (jwt: string) => ({ authorization: `Bearer ${jwt}` })
const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** A service that trusts only the identity provider: no JWT_SECRET. */
async function providerService (t: Parameters<typeof buildService>[0], jwksUrl: string, options: Record<string, unknown> = {}) {
  return buildService(t, { jwtSecret: undefined, jwtJwksUrl: jwksUrl, jwtIssuer: issuer, jwtAudience: `other-api, ${audience}`, jwtClockToleranceS: 0, ...options })
}

async function postAs (base: string, jwt: string) {
  return post(`${base}/api/messages/team`, { content: 'hi' }, bearerOf(jwt))
}

t.test('RS256, ES256, PS256 and EdDSA tokens from a JWKS are accepted over REST and WebSocket', async (t) => {
  const keys = await Promise.all(['RS256', 'ES256', 'PS256', 'EdDSA'].map((alg) => signingKey(alg)))
  const jwks = await startJwksServer(t, keys)
  const service = await providerService(t, jwks.url)
  for (const key of keys) {
    const response = await postAs(service.base, await signWith(key, claims()))
    t.equal(response.status, 201, key.alg)
    t.equal(response.body.sender, 'alice')
  }
  const audienceList = await postAs(service.base, await signWith(keys[0]!, claims({ aud: ['account', audience] })))
  t.equal(audienceList.status, 201, 'aud may be an array holding the audience')
  const socket = await Client.open(`${service.ws}?channel=team`, { headers: bearerOf(await signWith(keys[1]!, claims())) })
  await postAs(service.base, await signWith(keys[3]!, claims({ id: 'bob' })))
  t.match((await socket.receive(1))[0], { sender: 'bob', content: 'hi' })
  await socket.close()
  t.equal(jwks.fetches, 1, 'the set was fetched once, at start')
})

t.test('401 for a wrong iss or aud, expiry, a key not in the set, an unknown kid, alg confusion and alg none', async (t) => {
  const rsa = await signingKey('RS256')
  const ec = await signingKey('ES256')
  const jwks = await startJwksServer(t, [rsa, ec])
  const service = await providerService(t, jwks.url)
  const stranger = await signingKey('RS256', rsa.kid)
  const pemAsSecret = new TextEncoder().encode(rsa.pem)
  const badTokens: Record<string, string> = {
    'wrong iss': await signWith(rsa, claims({ iss: 'https://evil.example.com' })),
    'no iss': await signWith(rsa, claims({ iss: undefined })),
    'wrong aud': await signWith(rsa, claims({ aud: 'another-service' })),
    'no aud': await signWith(rsa, claims({ aud: undefined })),
    expired: await signWith(rsa, claims({ exp: nowS() - 1 })),
    'not valid yet': await signWith(rsa, claims({ nbf: nowS() + 60 })),
    'a key not in the set, under a kid that is': await signWith(stranger, claims()),
    'unknown kid': await signWith(rsa, claims(), { kid: 'no-such-kid' }),
    'ES256 naming an RSA key': await signWith(ec, claims(), { kid: rsa.kid }),
    'alg confusion: HS256 keyed with the public key': await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: rsa.kid }).sign(pemAsSecret),
    'HS256 when only asymmetric keys are configured': token(claims()),
    'alg none': `${base64url({ alg: 'none', kid: rsa.kid })}.${base64url(claims())}.`
  }
  for (const [name, jwt] of Object.entries(badTokens)) {
    const response = await postAs(service.base, jwt)
    t.equal(response.status, 401, name)
    t.match(response.body, { statusCode: 401, code: 'CHAT_UNAUTHORIZED', error: 'Unauthorized', message: String })
    t.equal(await upgradeStatus(`${service.ws}?channel=team`, bearerOf(jwt)), 401, `ws: ${name}`)
  }
  t.equal(await service.collection.countDocuments(), 0, 'nothing was stored')
  t.equal((await postAs(service.base, await signWith(rsa, claims()))).status, 201, 'the good token still works')
})

t.test('JWT_PUBLIC_KEY: one PEM key, beside JWT_SECRET', async (t) => {
  const ec = await signingKey('ES384')
  const service = await buildService(t, { jwtPublicKey: ec.pem.replace(/\n/g, '\\n'), jwtClockToleranceS: 0 })
  t.equal((await postAs(service.base, await signWith(ec, { ...member, exp: nowS() + 60 }, { kid: undefined }))).status, 201, 'ES384')
  t.equal((await postAs(service.base, token(member))).status, 201, 'HS256 with JWT_SECRET still works')
  const refused: Record<string, string> = {
    'another key': await signWith(await signingKey('ES384'), member, { kid: undefined }),
    'RS256 against an EC key': await signWith(await signingKey('RS256'), member, { kid: undefined }),
    'alg confusion: HS256 keyed with the public key': await new SignJWT(member).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(ec.pem)),
    'HS384 with the secret': await new SignJWT(member).setProtectedHeader({ alg: 'HS384' }).sign(new TextEncoder().encode('test-secret-that-is-long-enough-for-hs256'))
  }
  for (const [name, jwt] of Object.entries(refused)) t.equal((await postAs(service.base, jwt)).status, 401, name)
})

t.test('a key added to the JWKS is used without a restart', async (t) => {
  const old = await signingKey('RS256')
  const added = await signingKey('ES256')
  const jwks = await startJwksServer(t, [old])
  const service = await providerService(t, jwks.url, { jwtJwksCooldownMs: 1_000 })
  t.equal((await postAs(service.base, await signWith(old, claims()))).status, 201)
  jwks.publish([old, added])
  const jwt = await signWith(added, claims())
  const started = Date.now()
  await eventually(() => postAs(service.base, jwt), (response) => response.status === 201, 10_000)
  t.ok(Date.now() - started < 5_000, `used within the cooldown, after ${Date.now() - started} ms`)
  t.ok(jwks.fetches <= 3, `${jwks.fetches} fetches`)
})

t.test('a flood of unknown kids costs at most one fetch per cooldown', async (t) => {
  const key = await signingKey('RS256')
  const jwks = await startJwksServer(t, [key])
  const service = await providerService(t, jwks.url, { jwtJwksCooldownMs: 30_000 })
  t.equal((await postAs(service.base, await signWith(key, claims()))).status, 201)
  const before = jwks.fetches
  const flood = await Promise.all(Array.from({ length: 200 }, async (_, i) => (await postAs(service.base, await signWith(key, claims(), { kid: `random-${i}-${Math.random()}` }))).status))
  t.same(new Set(flood), new Set([401]), 'every one is refused')
  t.ok(jwks.fetches - before <= 1, `${jwks.fetches - before} fetches for 200 unknown kids`)
  t.equal((await postAs(service.base, await signWith(key, claims()))).status, 201, 'known keys still work')
})

t.test('JWKS unreachable: the service starts, answers 503 with Retry-After, logs it, and recovers', async (t) => {
  const key = await signingKey('ES256')
  const jwks = await startJwksServer(t, [key])
  jwks.down()
  const mongo = await startMongo(t)
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(chunk.toString()); done() } })
  const app = Fastify({ logger: { level: 'warn', stream } })
  await app.register(chat, { mongoUri: mongo.uri, mongoDb: mongo.db, jwtSecret: 'a-secret-for-hs256-tokens-a-secret', jwtJwksUrl: jwks.url })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const jwt = await signWith(key, member)

  const refused = await postAs(base, jwt)
  t.equal(refused.status, 503)
  t.match(refused.body, { statusCode: 503, code: 'CHAT_UNAVAILABLE', message: /cannot be fetched/ })
  t.equal(refused.headers.get('retry-after'), '5')
  t.equal(await upgradeStatus(`ws://127.0.0.1:${base.split(':')[2]}/ws?channel=team`, bearerOf(jwt)), 503, 'the upgrade too')
  t.equal((await postAs(base, token(member, { secret: 'a-secret-for-hs256-tokens-a-secret' }))).status, 201, 'HS256 tokens go on working')
  t.match(lines.join(''), /the JWKS could not be fetched/)
  t.equal((await postAs(base, `${base64url({ alg: 'none' })}.${base64url(member)}.`)).status, 401, 'a bad token is still 401')

  jwks.up()
  await eventually(() => postAs(base, jwt), (response) => response.status === 201, 10_000)
  t.pass('accepted once the JWKS is back')
})

t.test('JWKS down after keys were fetched: known keys go on working, unknown kids answer 503', async (t) => {
  const [key, keyNotInTheSet] = await Promise.all([signingKey('RS256'), signingKey('RS256')])
  const jwks = await startJwksServer(t, [key])
  const cooldownMs = 100
  const service = await providerService(t, jwks.url, { jwtJwksCooldownMs: cooldownMs })
  t.equal((await postAs(service.base, await signWith(key, claims()))).status, 201)
  jwks.down()
  t.equal((await postAs(service.base, await signWith(key, claims({ id: 'carol', groups: ['team'] })))).status, 201, 'a new token under a known key')
  // Within the cooldown an unknown kid is refused (401) without a fetch; past it, it is looked up.
  await sleep(cooldownMs + 50)
  t.equal((await postAs(service.base, await signWith(keyNotInTheSet, claims()))).status, 503, 'an unknown kid may be a new key: it cannot be checked now')
})

t.test('the JWKS server being absent altogether does not stop start-up', async (t) => {
  const service = await providerService(t, `http://127.0.0.1:${await freePort()}/jwks.json`)
  const response = await postAs(service.base, await signWith(await signingKey('RS256'), claims()))
  t.equal(response.status, 503)
  t.equal(response.headers.get('retry-after'), '5')
})
