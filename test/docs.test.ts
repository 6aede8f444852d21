// The OpenAPI document at /docs/json: valid to a real validator, and true to the service: real
// answers of every route match it, and every status it documents is one a route really answers.
import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import SwaggerParser from '@apidevtools/swagger-parser'
import swagger from '@fastify/swagger'
import { Ajv, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import Fastify from 'fastify'
import chat from '../app.js'
import { bearer, buildService, Client, freePort, get, getWithBody, post, SECRET, startMongo } from './helper.js'

const alice = { id: 'alice', groups: ['team'] }

interface Answer { status: number, contentType: string, headers: Record<string, string | string[] | undefined>, body: string }

async function answer (url: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(url, init)
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', headers: Object.fromEntries(response.headers), body: await response.text() }
}

/** A WebSocket upgrade request over plain HTTP: 101, or the HTTP answer that refused it. */
function upgradeAnswer (url: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // A connection of its own: an upgrade on a kept-alive connection is not one the server upgrades.
    const request = httpRequest(url, {
      agent: false,
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64'), ...headers }
    })
    request.on('upgrade', (response, socket) => {
      socket.destroy()
      resolve({ status: response.statusCode ?? 0, contentType: '', headers: response.headers, body: '' })
    })
    request.on('response', (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, contentType: response.headers['content-type'] ?? '', headers: response.headers, body: Buffer.concat(chunks).toString() }))
    })
    request.on('error', reject)
    request.end()
  })
}

interface Operation { responses: Record<string, { content?: Record<string, { schema: object }>, headers?: Record<string, unknown> }> }

/** Checks real answers against the (dereferenced) document and remembers which statuses were seen. */
class Contract {
  readonly answered = new Set<string>()
  readonly #paths: Record<string, Record<string, Operation>>
  readonly #ajv = new Ajv({ strict: false, allErrors: true })
  readonly #validators = new Map<object, ValidateFunction>()

  constructor (document: { paths: Record<string, Record<string, Operation>> }) {
    this.#paths = document.paths
    addFormats.default(this.#ajv)
  }

  documented (): Set<string> {
    return new Set(Object.entries(this.#paths).flatMap(([path, operations]) =>
      Object.entries(operations).flatMap(([method, operation]) => Object.keys(operation.responses).map((status) => `${method.toUpperCase()} ${path} ${status}`))))
  }

  check (t: Test, method: string, path: string, real: Answer): void {
    const name = `${method} ${path} ${real.status}`
    this.answered.add(name)
    const documented = this.#paths[path]?.[method.toLowerCase()]?.responses[String(real.status)]
    if (documented === undefined) {
      t.fail(`${name} is not documented`)
      return
    }
    for (const header of Object.keys(documented.headers ?? {})) t.ok(real.headers[header], `${name} sends the documented header ${header}`)
    if (documented.content === undefined) {
      t.equal(real.body, '', `${name} has no body, as documented`)
      return
    }
    const mediaType = real.contentType.split(';')[0]!
    const media = documented.content[mediaType]
    if (media === undefined) {
      t.fail(`${name} answered ${mediaType}; documented: ${Object.keys(documented.content).join(', ')}`)
      return
    }
    const body = mediaType === 'application/json' ? JSON.parse(real.body) : real.body
    let validate = this.#validators.get(media.schema)
    if (validate === undefined) this.#validators.set(media.schema, validate = this.#ajv.compile(media.schema))
    t.ok(validate(body), `${name} matches its documented schema${validate.errors ? `: ${this.#ajv.errorsText(validate.errors)} in ${real.body.slice(0, 300)}` : ''}`)
  }
}

t.test('the document passes a real OpenAPI validator and documents every route with its statuses, security and examples', async (t) => {
  const service = await buildService(t)
  const response = await fetch(`${service.base}/docs/json`)
  t.equal(response.status, 200)
  const document = await response.json()
  await t.resolves(SwaggerParser.validate(structuredClone(document)), 'valid OpenAPI 3')
  t.equal(document.openapi, '3.0.3')
  t.match(document.components.securitySchemes, { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } })
  t.match(document.components.schemas.ChatError, { type: 'object', required: ['statusCode', 'code', 'error', 'message'], example: { code: 'CHAT_FORBIDDEN' } })

  const operations = Object.entries(document.paths as Record<string, Record<string, any>>)
    .flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) => ({ name: `${method.toUpperCase()} ${path}`, operation })))
  t.same(operations.map((operation) => operation.name).sort(), [
    'DELETE /chat/api/messages/{channel_id}/{id}', 'GET /chat/api/channels/{channel}/presence', 'GET /chat/api/channels/{channel}/read',
    'GET /chat/api/messages/counts', 'GET /chat/api/messages/{channel_id}', 'GET /chat/api/unread', 'GET /chat/health', 'GET /chat/metrics',
    'GET /chat/ready', 'GET /chat/ws', 'PATCH /chat/api/messages/{channel_id}/{id}', 'POST /chat/api/messages/{channel_id}', 'PUT /chat/api/channels/{channel}/read'
  ], 'every route of the service, and nothing of the host or the viewer')
  const authenticated = [
    'POST /chat/api/messages/{channel_id}', 'GET /chat/api/messages/{channel_id}', 'GET /chat/ws', 'PATCH /chat/api/messages/{channel_id}/{id}',
    'DELETE /chat/api/messages/{channel_id}/{id}', 'PUT /chat/api/channels/{channel}/read', 'GET /chat/api/channels/{channel}/read', 'GET /chat/api/unread',
    'GET /chat/api/channels/{channel}/presence'
  ]
  for (const { name, operation } of operations) {
    t.ok(operation.operationId && operation.summary && operation.description && operation.tags?.length === 1, `${name} is described`)
    t.same(operation.security, authenticated.includes(name) ? [{ bearerAuth: [] }] : undefined, `${name}: bearer security exactly where a token is checked`)
    for (const [status, documented] of Object.entries(operation.responses as Record<string, any>)) {
      // /ready answers 503 with its readiness body, as 200 does.
      if (Number(status) < 400 || name === 'GET /chat/ready') continue
      t.same(documented.content, { 'application/json': { schema: { $ref: '#/components/schemas/ChatError' } } }, `${name} ${status} is the shared error`)
      t.notMatch(documented.description, /^Default Response$/, `${name} ${status} says when it happens`)
    }
  }
  const send = document.paths['/chat/api/messages/{channel_id}'].post
  t.same(Object.keys(send.responses).sort(), ['200', '201', '400', '401', '403', '413', '414', '415', '429', '503'])
  t.match(send.requestBody.content['application/json'], { example: { content: 'hello group' } })
  t.match(send.responses['201'].content['application/json'], { example: { id: /^[0-9a-f]{24}$/ } })
  t.ok(send.responses['503'].headers['retry-after'], 'Retry-After is documented')
  t.ok(send.responses['429'].headers['retry-after'], 'Retry-After is documented for 429 too')
  const ws = document.paths['/chat/ws'].get
  t.match(ws.responses['101'], { description: /Switching Protocols/ })
  t.notOk(ws.responses['101'].content)
  t.match(ws.description, /Client to server[\s\S]*"content"[\s\S]*Server to client[\s\S]*"error"[\s\S]*Close codes/, 'the frames both ways')
  t.same(ws.parameters.map((parameter: { name: string }) => parameter.name).sort(), ['access_token', 'channel', 'presence', 'since'])
})

t.test('real answers of every route match the document, and every documented status is really answered', async (t) => {
  const mongo = await startMongo(t)
  const service = await buildService(t, {}, mongo)
  // A second instance whose MongoDB and Redis cannot be reached, for the 503s.
  const away = await buildService(t, { redisUrl: `redis://127.0.0.1:${await freePort()}`, writeQueueMax: 1, retryAttempts: 100 },
    { uri: `mongodb://127.0.0.1:${await freePort()}/?directConnection=true`, db: 'away' })
  // A third whose limits are as low as they go, for the 429s.
  const limited = await buildService(t, { userMessageRate: 0.01, userMessageBurst: 1, userMaxConnections: 1, countsRateLimit: 1 }, mongo)
  const document = await SwaggerParser.dereference(await (await fetch(`${service.base}/docs/json`)).json())
  const contract = new Contract(document as unknown as ConstructorParameters<typeof Contract>[0])
  const user = bearer(alice)
  const json = { 'content-type': 'application/json', ...user }
  const send = '/chat/api/messages/{channel_id}'
  const counts = '/chat/api/messages/counts'
  const ws = '/chat/ws'
  const check = (method: string, path: string, real: Answer) => contract.check(t, method, path, real)

  check('GET', '/chat/health', await answer(`${service.base}/health`))
  check('GET', '/chat/ready', await answer(`${service.base}/ready`))
  check('GET', '/chat/ready', await answer(`${away.base}/ready`))
  check('GET', '/chat/metrics', await answer(`${service.base}/metrics`))

  const postTo = (base: string, channel: string, body: string, headers: Record<string, string> = json) =>
    answer(`${base}/api/messages/${channel}`, { method: 'POST', headers, body })
  check('POST', send, await postTo(service.base, 'team', '{"content":"hello"}'))
  check('POST', send, await postTo(service.base, 'team', '{"content":"once","clientId":"docs-1"}'))
  check('POST', send, await postTo(service.base, 'team', '{"content":"once","clientId":"docs-1"}'))
  check('POST', send, await postTo(service.base, 'team', '{"content":5}'))
  check('POST', send, await postTo(service.base, 'team', '{"content":"x"}', { 'content-type': 'application/json' }))
  check('POST', send, await postTo(service.base, 'bob', '{"content":"x"}'))
  check('POST', send, await postTo(service.base, 'team', JSON.stringify({ content: 'x'.repeat(70 * 1024) })))
  check('POST', send, await postTo(service.base, 'a'.repeat(101), '{"content":"x"}'))
  check('POST', send, await postTo(service.base, 'team', 'hello', { ...user, 'content-type': 'text/plain' }))
  check('POST', send, await postTo(away.base, 'team', '{"content":"queued"}'))
  check('POST', send, await postTo(away.base, 'team', '{"content":"over the cap"}'))
  check('POST', send, await postTo(limited.base, 'team', '{"content":"the one allowed"}'))
  check('POST', send, await postTo(limited.base, 'team', '{"content":"over the rate"}'))

  check('GET', send, await answer(`${service.base}/api/messages/team?limit=2`, { headers: user }))
  check('GET', send, await answer(`${service.base}/api/messages/team?limit=0`, { headers: user }))
  check('GET', send, await answer(`${service.base}/api/messages/team`))
  check('GET', send, await answer(`${service.base}/api/messages/${'a'.repeat(101)}`, { headers: user }))
  check('GET', send, await answer(`${away.base}/api/messages/team`, { headers: user }))

  const presence = '/chat/api/channels/{channel}/presence'
  check('GET', presence, await answer(`${service.base}/api/channels/team/presence`, { headers: user }))
  check('GET', presence, await answer(`${service.base}/api/channels/team/presence?limit=0`, { headers: user }))
  check('GET', presence, await answer(`${service.base}/api/channels/team/presence`))
  check('GET', presence, await answer(`${service.base}/api/channels/bob/presence`, { headers: user }))
  check('GET', presence, await answer(`${service.base}/api/channels/${'a'.repeat(101)}/presence`, { headers: user }))

  check('GET', counts, await answer(`${service.base}/api/messages/counts?channels=team,alice`))
  check('GET', counts, await answer(`${service.base}/api/messages/counts`))
  const tooLarge = await getWithBody(`${service.base}/api/messages/counts`, JSON.stringify({ channels: ['x'.repeat(70 * 1024)] }))
  check('GET', counts, { status: tooLarge.status, contentType: 'application/json', headers: {}, body: JSON.stringify(tooLarge.body) })
  check('GET', counts, await answer(`${away.base}/api/messages/counts?channels=team`))
  check('GET', counts, await answer(`${limited.base}/api/messages/counts?channels=team`))
  check('GET', counts, await answer(`${limited.base}/api/messages/counts?channels=team`))

  const read = '/chat/api/channels/{channel}/read'
  const unread = '/chat/api/unread'
  const change = '/chat/api/messages/{channel_id}/{id}'
  const unknownId = '6b06ec9c9ca8c2fad139f951'
  const ownId = JSON.parse((await postTo(service.base, 'team', '{"content":"to change"}')).body).id
  const othersId = JSON.parse((await postTo(service.base, 'team', '{"content":"not alice\'s"}', { 'content-type': 'application/json', ...bearer({ id: 'bob', groups: ['team'] }) })).body).id
  const putRead = (base: string, channel: string, body: string, headers: Record<string, string> = json) => answer(`${base}/api/channels/${channel}/read`, { method: 'PUT', headers, body })
  check('PUT', read, await putRead(service.base, 'team', JSON.stringify({ id: ownId })))
  check('PUT', read, await putRead(service.base, 'team', '{"id":"x"}'))
  check('PUT', read, await putRead(service.base, 'team', JSON.stringify({ id: ownId }), { 'content-type': 'application/json' }))
  check('PUT', read, await putRead(service.base, 'bob', JSON.stringify({ id: ownId })))
  check('PUT', read, await putRead(service.base, 'team', JSON.stringify({ id: unknownId })))
  check('PUT', read, await putRead(service.base, 'a'.repeat(101), JSON.stringify({ id: ownId })))
  check('PUT', read, await putRead(away.base, 'team', JSON.stringify({ id: unknownId })))
  check('GET', read, await answer(`${service.base}/api/channels/team/read`, { headers: user }))
  check('GET', read, await answer(`${service.base}/api/channels/team%20x/read`, { headers: user }))
  check('GET', read, await answer(`${service.base}/api/channels/team/read`))
  check('GET', read, await answer(`${service.base}/api/channels/bob/read`, { headers: user }))
  check('GET', read, await answer(`${service.base}/api/channels/${'a'.repeat(101)}/read`, { headers: user }))
  check('GET', read, await answer(`${away.base}/api/channels/team/read`, { headers: user }))
  check('GET', unread, await answer(`${service.base}/api/unread`, { headers: user }))
  check('GET', unread, await answer(`${service.base}/api/unread`))
  check('GET', unread, await answer(`${away.base}/api/unread`, { headers: user }))

  const changeOf = (
    base: string,
    method: string,
    channel: string,
    id: string,
    body?: string,
    headers: Record<string, string> = body === undefined ? user : json
  ) => answer(`${base}/api/messages/${channel}/${id}`, { method, headers, body })
  check('PATCH', change, await changeOf(service.base, 'PATCH', 'team', ownId, '{"content":"edited"}'))
  check('PATCH', change, await changeOf(service.base, 'PATCH', 'team', ownId, '{"content":5}'))
  check('PATCH', change, await changeOf(service.base, 'PATCH', 'team', ownId, '{"content":"x"}', { 'content-type': 'application/json' }))
  check('PATCH', change, await changeOf(service.base, 'PATCH', 'team', othersId, '{"content":"x"}'))
  check('PATCH', change, await changeOf(service.base, 'PATCH', 'team', unknownId, '{"content":"x"}'))
  check('PATCH', change, await changeOf(service.base, 'PATCH', 'a'.repeat(101), ownId, '{"content":"x"}'))
  check('PATCH', change, await changeOf(away.base, 'PATCH', 'team', ownId, '{"content":"x"}'))
  check('DELETE', change, await changeOf(service.base, 'DELETE', 'team', ownId))
  check('DELETE', change, await changeOf(service.base, 'DELETE', 'team', 'x'))
  check('DELETE', change, await changeOf(service.base, 'DELETE', 'team', ownId, undefined, {}))
  check('DELETE', change, await changeOf(service.base, 'DELETE', 'team', othersId))
  check('DELETE', change, await changeOf(service.base, 'DELETE', 'team', unknownId))
  check('DELETE', change, await changeOf(service.base, 'DELETE', 'a'.repeat(101), ownId))
  check('DELETE', change, await changeOf(away.base, 'DELETE', 'team', ownId))

  check('GET', ws, await upgradeAnswer(`${service.ws}?channel=team`.replace('ws:', 'http:'), user))
  check('GET', ws, await upgradeAnswer(`${service.ws}?since=${'0'.repeat(24)}`.replace('ws:', 'http:'), user))
  check('GET', ws, await upgradeAnswer(`${service.ws}`.replace('ws:', 'http:'), user))
  check('GET', ws, await upgradeAnswer(`${service.ws}?channel=team`.replace('ws:', 'http:')))
  check('GET', ws, await upgradeAnswer(`${service.ws}?channel=bob`.replace('ws:', 'http:'), user))
  check('GET', ws, await answer(`${service.base}/ws?channel=team`, { headers: user }))
  const open = await Client.open(`${limited.ws}?channel=team`, { headers: user })
  check('GET', ws, await upgradeAnswer(`${limited.ws}?channel=team`.replace('ws:', 'http:'), user))
  await open.close()

  t.same([...contract.answered].sort(), [...contract.documented()].sort(), 'each documented status was answered for real, and no other')
})

t.test('the WebSocket frames the description promises', async (t) => {
  const service = await buildService(t)
  const client = await Client.open(`${service.ws}?channel=team`, { headers: bearer(alice) })
  client.send({ content: 'hi', clientId: 'docs-ws' })
  client.send('not json')
  const frames = await client.receive(3)
  const message = frames.find((frame) => frame.content !== undefined)
  t.match(message, { id: /^[0-9a-f]{24}$/, channel: 'team', sender: 'alice', content: 'hi', createdAt: String, seq: Number, clientId: 'docs-ws' })
  t.same(frames.find((frame) => frame.ack !== undefined), { ack: { clientId: 'docs-ws', id: message.id } })
  t.match(frames.find((frame) => frame.error !== undefined), { error: { statusCode: 400, code: 'CHAT_INVALID_MESSAGE', error: 'Bad Request', message: String } })
  await client.close()
})

t.test('DOCS=false: neither the document nor the viewer', async (t) => {
  const service = await buildService(t, { docs: false })
  t.match(await get(`${service.base}/docs/json`), { status: 404, body: { code: 'CHAT_NOT_FOUND' } })
  t.equal((await get(`${service.base}/docs`)).status, 404)
  t.equal((await post(`${service.base}/api/messages/team`, { content: 'the rest works' }, bearer(alice))).status, 201)
})

t.test('standalone (no prefix): /docs/json and /docs at the root', async (t) => {
  const mongo = await startMongo(t)
  const app = Fastify()
  await app.register(chat, { mongoUri: mongo.uri, mongoDb: mongo.db, jwtSecret: SECRET })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const document = await (await fetch(`${base}/docs/json`)).json()
  await t.resolves(SwaggerParser.validate(document))
  t.ok(document.paths['/api/messages/{channel_id}'], 'paths without a prefix')
  t.match(await answer(`${base}/docs/yaml`), { status: 200, contentType: /yaml/, body: /openapi: 3\.0\.3/ }, 'and in YAML')
  const page = await answer(`${base}/docs`)
  t.equal(page.status, 200)
  t.match(page.body, /src="\/docs\/static\/swagger-ui-bundle\.js"/)
})

t.test("a host with its own @fastify/swagger documents the chat's routes in its document", async (t) => {
  const mongo = await startMongo(t)
  const host = Fastify()
  await host.register(swagger, { openapi: { info: { title: 'host', version: '1.0.0' } } })
  host.get('/documentation/json', async () => host.swagger())
  await host.register(chat, { prefix: '/chat', mongoUri: mongo.uri, mongoDb: mongo.db, jwtSecret: SECRET })
  await host.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => host.close())
  const base = `http://127.0.0.1:${(host.server.address() as { port: number }).port}`
  const document = await (await fetch(`${base}/documentation/json`)).json()
  await t.resolves(SwaggerParser.validate(structuredClone(document)), "the host's document stays valid")
  t.ok(document.paths['/chat/api/messages/{channel_id}'].post, "the chat's routes are in it")
  t.equal((await get(`${base}/chat/docs/json`)).status, 404, 'the service adds no second document')
})
