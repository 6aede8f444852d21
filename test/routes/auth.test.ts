import t from 'tap'
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import chat from '../../app.js'
import { buildService, get, post, startMongo, token, upgradeStatus } from '../helper.js'

const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
const unsigned = (payload: object) => `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(payload)}.`
const member = { id: 'alice', groups: ['team'] }

const badTokens: Record<string, string> = {
  malformed: 'not.a.jwt',
  garbage: 'abc',
  'wrong signature': token(member, { secret: 'another-secret-another-secret-another' }),
  'alg none': unsigned(member),
  expired: token({ ...member, exp: Math.floor(Date.now() / 1000) - 60 }),
  'id missing': token({ groups: ['team'] }),
  'id empty': token({ id: '', groups: ['team'] }),
  'id not a string': token({ id: 42, groups: ['team'] }),
  'groups missing': token({ id: 'alice' }),
  'groups not an array': token({ id: 'alice', groups: 'team' }),
  'groups not strings': token({ id: 'alice', groups: ['team', 1] })
}

t.test('every bad token is 401 on every protected endpoint, in the one error shape', async (t) => {
  const service = await buildService(t)
  const endpoints = {
    post: (headers: Record<string, string>) => post(`${service.base}/api/messages/team`, { content: 'x' }, headers),
    history: (headers: Record<string, string>) => get(`${service.base}/api/messages/team`, headers)
  }
  const headerCases: Record<string, Record<string, string>> = {
    'no Authorization header': {},
    'not a Bearer scheme': { authorization: `Basic ${token(member)}` },
    ...Object.fromEntries(Object.entries(badTokens).map(([name, jwt]) => [name, { authorization: `Bearer ${jwt}` }]))
  }
  for (const [name, headers] of Object.entries(headerCases)) {
    for (const [endpoint, call] of Object.entries(endpoints)) {
      const response = await call(headers)
      t.equal(response.status, 401, `${endpoint}: ${name}`)
      t.match(response.body, { statusCode: 401, code: 'CHAT_UNAUTHORIZED', error: 'Unauthorized', message: String })
    }
    t.equal(await upgradeStatus(`${service.ws}?channel=team`, headers), 401, `ws: ${name}`)
  }
  for (const [name, jwt] of Object.entries(badTokens)) {
    t.equal(await upgradeStatus(`${service.ws}?channel=team&access_token=${encodeURIComponent(jwt)}`), 401, `ws query token: ${name}`)
  }
  t.equal(await service.collection.countDocuments(), 0, 'nothing was stored')
  t.equal((await post(`${service.base}/api/messages/team`, { content: 'ok' }, { authorization: `Bearer ${token(member)}` })).status, 201)
})

t.test('a token that is not expired yet is accepted', async (t) => {
  const service = await buildService(t)
  const jwt = token({ ...member, exp: Math.floor(Date.now() / 1000) + 60 })
  t.equal((await post(`${service.base}/api/messages/team`, { content: 'x' }, { authorization: `Bearer ${jwt}` })).status, 201)
})

t.test('parse-only mode is an explicit opt-in that warns at start', async (t) => {
  const mongo = await startMongo(t)
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(chunk.toString()); done() } })
  const app = Fastify({ logger: { level: 'warn', stream } })
  await app.register(chat, { mongoUri: mongo.uri, mongoDb: mongo.db, jwtInsecureSkipVerify: true })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  t.match(lines.join(''), /JWT_INSECURE_SKIP_VERIFY is on/)
  const { port } = app.server.address() as { port: number }
  const response = await post(`http://127.0.0.1:${port}/api/messages/team`, { content: 'x' }, { authorization: `Bearer ${unsigned(member)}` })
  t.equal(response.status, 201)
  t.equal(response.body.sender, 'alice')
  const badClaims = await post(`http://127.0.0.1:${port}/api/messages/team`, { content: 'x' }, { authorization: `Bearer ${unsigned({ id: 'alice' })}` })
  t.equal(badClaims.status, 401, 'claims are still checked')
})
