// ALLOWED_ORIGINS over real HTTP and WebSocket upgrades: CORS for allowed origins, 403 for the others,
// and nothing changes for requests without an Origin header.
import t from 'tap'
import Fastify from 'fastify'
import cors from '@fastify/cors'
import WebSocket from 'ws'
import chat from '../../app.js'
import { bearer, buildService, Client, eventually, post, SECRET, startMongo } from '../helper.js'

const alice = { id: 'alice', groups: ['team'] }
const allowed = 'https://app.example.test'
const other = 'https://other.example.test'

/** The HTTP answer to a WebSocket upgrade: 101, or the status and JSON body of the refusal. */
function upgrade (url: string, headers: Record<string, string>): Promise<{ status: number, body?: any }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers })
    socket.on('open', () => { socket.close(); resolve({ status: 101 }) })
    socket.on('unexpected-response', (_request, response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }))
    })
    socket.on('error', (error) => { if (!/Unexpected server response/.test(error.message)) reject(error) })
  })
}

function preflight (url: string, origin: string, headers = 'authorization,content-type,idempotency-key'): Promise<Response> {
  return fetch(url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': headers } })
}

t.test('unset: the same origin passes, another origin gets 403 on REST and on the upgrade, no Origin is never affected', async (t) => {
  const service = await buildService(t)
  const { host } = new URL(service.base)
  const sameOrigin = `http://${host}`

  t.equal((await post(`${service.base}/api/messages/team`, { content: 'no origin' }, bearer(alice))).status, 201)
  const same = await post(`${service.base}/api/messages/team`, { content: 'same origin' }, { ...bearer(alice), origin: sameOrigin })
  t.equal(same.status, 201)
  t.equal(same.headers.get('access-control-allow-origin'), null, 'the same origin needs no CORS headers')

  const refused = await post(`${service.base}/api/messages/team`, { content: 'from elsewhere' }, { ...bearer(alice), origin: other })
  t.match(refused, { status: 403, body: { statusCode: 403, code: 'CHAT_ORIGIN_NOT_ALLOWED', error: 'Forbidden', message: `Origin ${other} is not allowed` } })
  t.match(await upgrade(`${service.ws}?channel=team`, { ...bearer(alice), origin: other }), { status: 403, body: { code: 'CHAT_ORIGIN_NOT_ALLOWED' } })
  t.match(await upgrade(`${service.ws}?channel=team`, { origin: other }), { status: 403, body: { code: 'CHAT_ORIGIN_NOT_ALLOWED' } }, 'before authentication')
  t.equal((await preflight(`${service.base}/api/messages/team`, other)).status, 403)
  t.equal((await upgrade(`${service.ws}?channel=team`, { ...bearer(alice), origin: sameOrigin })).status, 101)
  t.equal((await upgrade(`${service.ws}?channel=team`, bearer(alice))).status, 101)

  const stored = await eventually(() => service.collection.find().toArray(), (docs) => docs.length === 2)
  t.same(stored.map((doc) => doc.content).sort(), ['no origin', 'same origin'], 'nothing from the other origin was stored')
})

t.test('a list: its origins get CORS (preflight included) and WebSocket access, other origins get 403', async (t) => {
  const service = await buildService(t, { allowedOrigins: `${allowed}, http://localhost:5173` })
  const url = `${service.base}/api/messages/team`

  const answer = await preflight(url, allowed)
  t.equal(answer.status, 204)
  t.equal(answer.headers.get('access-control-allow-origin'), allowed)
  t.equal(answer.headers.get('access-control-allow-headers'), 'Authorization, Content-Type, Idempotency-Key')
  t.equal(answer.headers.get('access-control-allow-methods'), 'GET, HEAD, POST')
  t.equal(answer.headers.get('access-control-max-age'), '600')
  t.match(answer.headers.get('vary'), /Origin/)

  const sent = await post(url, { content: 'from the app' }, { ...bearer(alice), origin: allowed })
  t.equal(sent.status, 201)
  t.equal(sent.headers.get('access-control-allow-origin'), allowed)
  t.equal(sent.headers.get('access-control-expose-headers'), 'Retry-After', 'a page can read Retry-After on a 503')
  t.equal((await upgrade(`${service.ws}?channel=team`, { ...bearer(alice), origin: 'http://localhost:5173' })).status, 101)

  t.equal((await preflight(url, other)).status, 403)
  t.equal((await post(url, { content: 'x' }, { ...bearer(alice), origin: other })).status, 403)
  const { host } = new URL(service.base)
  t.equal((await post(url, { content: 'x' }, { ...bearer(alice), origin: `http://${host}` })).status, 403, 'a list replaces the same-origin default')
  t.match(await upgrade(`${service.ws}?channel=team`, { ...bearer(alice), origin: other }), { status: 403, body: { code: 'CHAT_ORIGIN_NOT_ALLOWED' } })
  t.equal((await post(url, { content: 'no origin' }, bearer(alice))).status, 201)
})

t.test('*: every origin gets CORS and WebSocket access', async (t) => {
  const service = await buildService(t, { allowedOrigins: '*' })
  const answer = await preflight(`${service.base}/api/messages/team`, other)
  t.equal(answer.status, 204)
  t.equal(answer.headers.get('access-control-allow-origin'), '*')
  const history = await fetch(`${service.base}/api/messages/team`, { headers: { ...bearer(alice), origin: other } })
  t.equal(history.status, 200)
  t.equal(history.headers.get('access-control-allow-origin'), '*')
  const client = await Client.open(`${service.ws}?channel=team`, { headers: { ...bearer(alice), origin: other } })
  await client.close()
})

t.test('an invalid ALLOWED_ORIGINS stops start-up and names the entry', async (t) => {
  const mongo = await startMongo(t)
  for (const [allowedOrigins, message] of [['https://a.test/', /ALLOWED_ORIGINS \(option allowedOrigins\): "https:\/\/a\.test\/" is not an origin/], ['*,https://a.test', /cannot be combined/]] as const) {
    const app = Fastify()
    app.register(chat, { mongoUri: mongo.uri, mongoDb: mongo.db, jwtSecret: SECRET, allowedOrigins })
    await t.rejects(async () => { await app.ready() }, message)
    await app.close()
  }
})

t.test('mounted: the host\'s routes keep their CORS, with or without the host\'s own @fastify/cors', async (t) => {
  const hostOrigin = 'https://host.example.test'
  for (const hostHasCors of [false, true]) {
    t.test(hostHasCors ? 'host with @fastify/cors' : 'host without CORS', async (t) => {
      const mongo = await startMongo(t)
      const host = Fastify()
      if (hostHasCors) await host.register(cors, { origin: [hostOrigin] })
      host.get('/host-route', async () => ({ host: true }))
      host.post('/host-route', async () => ({ host: true }))
      await host.register(chat, { prefix: '/chat', mongoUri: mongo.uri, mongoDb: mongo.db, jwtSecret: SECRET, allowedOrigins: allowed })
      await host.listen({ port: 0, host: '127.0.0.1' })
      t.teardown(() => host.close())
      const base = `http://127.0.0.1:${(host.server.address() as { port: number }).port}`

      // Outside the prefix: the host's setup alone, whatever the service allows.
      const fromService = await fetch(`${base}/host-route`, { headers: { origin: allowed } })
      t.equal(fromService.status, 200, 'the service refuses nothing outside its prefix')
      t.equal(fromService.headers.get('access-control-allow-origin'), null)
      const fromHost = await fetch(`${base}/host-route`, { headers: { origin: hostOrigin } })
      t.equal(fromHost.headers.get('access-control-allow-origin'), hostHasCors ? hostOrigin : null)
      if (hostHasCors) {
        const hostPreflight = await preflight(`${base}/host-route`, hostOrigin, 'content-type')
        t.equal(hostPreflight.status, 204)
        t.equal(hostPreflight.headers.get('access-control-allow-origin'), hostOrigin)
        t.equal(hostPreflight.headers.get('access-control-allow-headers'), 'content-type', 'the host\'s own options there')
      }

      // Under the prefix: the service's setting.
      const chatPreflight = await preflight(`${base}/chat/api/messages/team`, allowed)
      t.equal(chatPreflight.status, 204)
      t.equal(chatPreflight.headers.get('access-control-allow-origin'), allowed)
      t.equal(chatPreflight.headers.get('access-control-allow-headers'), 'Authorization, Content-Type, Idempotency-Key')
      const sent = await post(`${base}/chat/api/messages/team`, { content: 'hi' }, { ...bearer(alice), origin: allowed })
      t.equal(sent.status, 201)
      t.equal(sent.headers.get('access-control-allow-origin'), allowed)
      t.equal((await post(`${base}/chat/api/messages/team`, { content: 'hi' }, { ...bearer(alice), origin: hostOrigin })).status, 403)
      t.equal((await upgrade(`${base.replace('http', 'ws')}/chat/ws?channel=team`, { ...bearer(alice), origin: hostOrigin })).status, 403)
    })
  }
})

t.test('mounted without a prefix beside the host\'s @fastify/cors: both start, each route keeps its own policy', async (t) => {
  const hostOrigin = 'https://host.example.test'
  const mongo = await startMongo(t)
  const host = Fastify()
  await host.register(cors, { origin: [hostOrigin] })
  host.get('/host-route', async () => ({ host: true }))
  await host.register(chat, { mongoUri: mongo.uri, mongoDb: mongo.db, jwtSecret: SECRET, allowedOrigins: allowed })
  await host.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => host.close())
  const base = `http://127.0.0.1:${(host.server.address() as { port: number }).port}`

  t.equal((await fetch(`${base}/host-route`, { headers: { origin: hostOrigin } })).headers.get('access-control-allow-origin'), hostOrigin)
  const sent = await post(`${base}/api/messages/team`, { content: 'hi' }, { ...bearer(alice), origin: allowed })
  t.equal(sent.status, 201)
  t.equal(sent.headers.get('access-control-allow-origin'), allowed)
  t.equal((await post(`${base}/api/messages/team`, { content: 'hi' }, { ...bearer(alice), origin: hostOrigin })).status, 403)
  // The known limit (README): the host's OPTIONS /* answers preflights here, with the host's options.
  t.equal((await preflight(`${base}/api/messages/team`, allowed)).headers.get('access-control-allow-origin'), null)
})
