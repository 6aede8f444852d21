import t from 'tap'
import { join } from 'node:path'
import Fastify from 'fastify'
import websocket from '@fastify/websocket'
import sensible from '@fastify/sensible'
import chat from '../app.js'
import { envName, rawSettings, writeBatchWindowMsOf } from '../lib/config/settings.js'
import { bearer, Client, get, post, SECRET, startMongo, startServerProcess, token } from './helper.js'

t.test('settings: plugin options win over env; env names are derived', async (t) => {
  t.equal(envName('retryAttempts'), 'RETRY_ATTEMPTS')
  t.equal(envName('mongoUri'), 'MONGO_URI')
  t.same(rawSettings({ retryAttempts: 2 }, { RETRY_ATTEMPTS: '9', MONGO_DB: 'fromenv', PORT: '' }), { retryAttempts: 2, mongoDb: 'fromenv' })
})

t.test('the write window defaults to 50 ms, 5 ms when senders wait for the store; a set value wins', async (t) => {
  t.equal(writeBatchWindowMsOf({ ackAfterStore: false }), 50)
  t.equal(writeBatchWindowMsOf({ ackAfterStore: true }), 5)
  t.equal(writeBatchWindowMsOf({ ackAfterStore: true, writeBatchWindowMs: 0 }), 0)
  t.equal(writeBatchWindowMsOf({ ackAfterStore: false, writeBatchWindowMs: 20 }), 20)
})

t.test('a bad setting stops start-up with a clear error', async (t) => {
  const mongo = await startMongo(t)
  const cases: Array<[object, RegExp]> = [
    [{ retryAttempts: 'many' }, /RETRY_ATTEMPTS \(option retryAttempts\) must be integer/],
    [{ retryAttempts: -1 }, /RETRY_ATTEMPTS/],
    [{ writeBatchSize: 0 }, /WRITE_BATCH_SIZE/],
    [{ jwtSecret: undefined }, /JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL \(option jwtSecret, jwtPublicKey or jwtJwksUrl\) is required/],
    [{ jwtPublicKey: 'not a key' }, /JWT_PUBLIC_KEY \(option jwtPublicKey\) is not a usable PEM public key/],
    [{ jwtJwksUrl: 'ftp://id.example.com/jwks' }, /JWT_JWKS_URL \(option jwtJwksUrl\) must match pattern/],
    [{ jwtJwksCooldownMs: 60_000 }, /JWT_JWKS_COOLDOWN_MS/],
    [{ jwtClockToleranceS: -1 }, /JWT_CLOCK_TOLERANCE_S/]
  ]
  for (const [options, message] of cases) {
    const app = Fastify()
    app.register(chat, { mongoUri: mongo.uri, jwtSecret: SECRET, ...options })
    await t.rejects(async () => { await app.ready() }, message)
    await app.close()
  }
})

t.test('env is the fallback for plugin options', async (t) => {
  const mongo = await startMongo(t)
  const saved = { ...process.env }
  t.teardown(() => { process.env = saved })
  Object.assign(process.env, { JWT_SECRET: 'from-env-secret', MONGO_URI: mongo.uri, MONGO_DB: mongo.db, MONGO_COLLECTION: 'from_env' })
  const app = Fastify()
  await app.register(chat)
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as { port: number }
  const response = await post(`http://127.0.0.1:${port}/api/messages/u`, { content: 'x' }, { authorization: `Bearer ${token({ id: 'u', groups: [] }, { secret: 'from-env-secret' })}` })
  t.equal(response.status, 201)
})

t.test('mounted beside a host that already registered @fastify/websocket and @fastify/sensible', async (t) => {
  const mongo = await startMongo(t)
  const host = Fastify()
  await host.register(websocket)
  await host.register(sensible)
  host.get('/host-ws', { websocket: true }, (socket) => socket.send(JSON.stringify({ host: 'socket' })))
  await host.register(chat, { prefix: '/chat', mongoUri: mongo.uri, mongoDb: mongo.db, jwtSecret: SECRET, authorize: (claims, channel) => channel === `room-of-${claims.id}` })
  await host.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => host.close())
  const { port } = host.server.address() as { port: number }

  const hostSocket = new Client(`ws://127.0.0.1:${port}/host-ws`)
  t.same(await hostSocket.receive(1), [{ host: 'socket' }])
  hostSocket.socket.close()

  const user = bearer({ id: 'ann', groups: ['ann'] })
  const client = await Client.open(`ws://127.0.0.1:${port}/chat/ws?channel=room-of-ann`, { headers: user })
  t.equal((await post(`http://127.0.0.1:${port}/chat/api/messages/room-of-ann`, { content: 'custom rule' }, user)).status, 201)
  t.match(await client.receive(1), [{ content: 'custom rule' }])
  t.equal((await post(`http://127.0.0.1:${port}/chat/api/messages/ann`, { content: 'x' }, user)).status, 403, 'the authorize option replaced the seed rule')
  t.equal((await get(`http://127.0.0.1:${port}/chat/api/messages/room-of-ann`, user)).status, 200)
  await client.close()
})

t.test('standalone server: starts on the embedded database when MONGO_URI is unset, and exits 0 on SIGTERM', async (t) => {
  const server = await startServerProcess(t, { MONGO_URI: undefined, DEAD_LETTER_FILE: join(t.testdir(), 'dead-letter.jsonl') })
  t.ok(server.logs.some((entry) => /embedded in-memory/.test(entry.msg)), 'says that data lives in memory')
  t.same((await get(`${server.base}/health`)).body, { status: 'ok' })
  t.equal((await post(`${server.base}/api/messages/u1`, { content: 'standalone' }, bearer({ id: 'u1', groups: [] }))).status, 201)
  t.match(await get(`${server.base}/nowhere`), { status: 404, body: { code: 'CHAT_NOT_FOUND' } })
  const viaQuery = await Client.open(`${server.base.replace('http', 'ws')}/ws?channel=u1&access_token=${token({ id: 'u1', groups: [] })}`)
  await viaQuery.close()
  t.notMatch(JSON.stringify(server.logs), /access_token=ey/, 'tokens in query strings are not logged')
  server.signal('SIGTERM')
  t.equal(await server.exited, 0)
})
