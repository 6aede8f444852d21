// GET /metrics over a real port, read with a real Prometheus text-format parser: each chat
// metric moves by exactly what the clients did.
import t from 'tap'
import Fastify from 'fastify'
import parsePrometheusText from 'parse-prometheus-text-format'
import { Counter, Registry } from 'prom-client'
import chat from '../app.js'
import { bearer, buildService, Client, eventually, get, mongoProxy, post, SECRET, startMongo, startRedis } from './helper.js'

const alice = { id: 'alice', groups: ['team'] }
const bob = { id: 'bob', groups: ['team'] }

interface Family {
  type: string
  metrics: Array<{ value?: string, labels?: Record<string, string>, count?: string, sum?: string }>
}

/** One scrape, parsed. */
class Scrape {
  readonly #families: Map<string, Family>

  constructor (text: string) {
    this.#families = new Map(parsePrometheusText(text).map((family) => [family.name, family]))
  }

  has (name: string): boolean {
    return this.#families.has(name)
  }

  type (name: string): string | undefined {
    return this.#families.get(name)?.type
  }

  /** The value of the sample of `name` with exactly these labels. */
  value (name: string, labels: Record<string, string> = {}): number {
    const family = this.#families.get(name)
    if (family === undefined) throw new Error(`no metric ${name}`)
    const sample = family.metrics.find((metric) => JSON.stringify(metric.labels ?? {}) === JSON.stringify(labels))
    if (sample === undefined) throw new Error(`no sample of ${name} with labels ${JSON.stringify(labels)}`)
    return Number(sample.value)
  }

  histogram (name: string): { count: number, sum: number } {
    const [sample] = this.#families.get(name)?.metrics ?? []
    return { count: Number(sample?.count ?? NaN), sum: Number(sample?.sum ?? NaN) }
  }
}

async function scrape (url: string): Promise<Scrape> {
  const response = await fetch(url)
  if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}`)
  if (!/^text\/plain; version=0\.0\.4/.test(response.headers.get('content-type') ?? '')) throw new Error('not the Prometheus text format')
  return new Scrape(await response.text())
}

const refusedBy = (scraped: Scrape, reason: string) => scraped.value('chat_messages_refused_total', { reason })
const REASONS = ['invalid', 'unauthorized', 'forbidden', 'rate_limited', 'queue_full', 'shutting_down']

t.test('N messages to K sockets: +N accepted, +N stored once written, +N×K deliveries; the connection gauge goes up and back to 0', async (t) => {
  const service = await buildService(t)
  const metricsUrl = `${service.base}/metrics`
  const before = await scrape(metricsUrl)
  t.equal(before.type('chat_messages_accepted_total'), 'COUNTER')
  t.equal(before.type('chat_websocket_connections'), 'GAUGE')
  t.equal(before.type('chat_write_batch_duration_seconds'), 'HISTOGRAM')
  t.equal(before.value('chat_websocket_connections'), 0)

  const sockets = await Promise.all([alice, bob, alice].map((user) => Client.open(`${service.ws}?channel=team`, { headers: bearer(user) })))
  t.equal((await scrape(metricsUrl)).value('chat_websocket_connections'), 3, 'one per open socket')

  for (let i = 0; i < 4; i++) t.equal((await post(`${service.base}/api/messages/team`, { content: `rest ${i}` }, bearer(alice))).status, 201)
  sockets[1]!.send({ content: 'ws 1' })
  sockets[1]!.send({ content: 'ws 2' })
  await Promise.all(sockets.map((socket) => socket.receive(6)))
  // A channel without sockets: accepted and stored, delivered to nobody.
  t.equal((await post(`${service.base}/api/messages/alice`, { content: 'to nobody' }, bearer(alice))).status, 201)

  const after = await eventually(() => scrape(metricsUrl), (scraped) => scraped.value('chat_messages_stored_total') - before.value('chat_messages_stored_total') >= 7)
  t.equal(after.value('chat_messages_accepted_total', { transport: 'rest' }) - before.value('chat_messages_accepted_total', { transport: 'rest' }), 5)
  t.equal(after.value('chat_messages_accepted_total', { transport: 'ws' }) - before.value('chat_messages_accepted_total', { transport: 'ws' }), 2)
  t.equal(after.value('chat_messages_stored_total') - before.value('chat_messages_stored_total'), 7, 'each stored message counted once')
  t.equal(after.value('chat_deliveries_total') - before.value('chat_deliveries_total'), 6 * 3, '6 messages to 3 sockets, 0 to the empty channel')
  t.equal(after.value('chat_write_queue_depth'), 0)
  t.equal(after.value('chat_messages_dead_lettered_total'), 0)
  for (const reason of REASONS) t.equal(refusedBy(after, reason), refusedBy(before, reason), `no refusal counted as ${reason}`)
  const batches = after.histogram('chat_write_batch_duration_seconds')
  t.ok(batches.count >= 1 && batches.count <= 7, `the writes took ${batches.count} batch(es)`)
  t.ok(batches.sum > 0, 'batch durations are recorded')
  t.equal(await service.collection.countDocuments(), 7)

  await Promise.all(sockets.map((socket) => socket.close()))
  await eventually(() => scrape(metricsUrl), (scraped) => scraped.value('chat_websocket_connections') === 0)
  t.pass('the gauge is back to 0 once the sockets closed')
})

t.test('refusals are counted by reason, over REST and WebSocket', async (t) => {
  const service = await buildService(t)
  const metricsUrl = `${service.base}/metrics`
  const before = await scrape(metricsUrl)
  const url = `${service.base}/api/messages/team`

  t.equal((await post(url, { content: 'x' })).status, 401)
  t.equal((await post(url, { content: 'x' }, { authorization: 'Bearer not-a-jwt' })).status, 401)
  t.equal((await post(`${service.base}/api/messages/bob`, { content: 'x' }, bearer(alice))).status, 403)
  t.equal((await post(url, { content: 5 }, bearer(alice))).status, 400)
  t.equal((await post(url, '{"content":', bearer(alice))).status, 400)
  t.equal((await post(url, { content: 'x'.repeat(70 * 1024) }, bearer(alice))).status, 413)
  t.equal((await post(url, 'plain', { ...bearer(alice), 'content-type': 'text/plain' })).status, 415)
  const client = await Client.open(`${service.ws}?channel=team`, { headers: bearer(alice) })
  client.send('not json')
  client.send({ content: '   ' })
  client.socket.send(Buffer.from('binary'), { binary: true })
  t.ok((await client.receive(3)).every((frame) => frame.error?.statusCode === 400))

  const after = await scrape(metricsUrl)
  t.equal(refusedBy(after, 'unauthorized') - refusedBy(before, 'unauthorized'), 2)
  t.equal(refusedBy(after, 'forbidden') - refusedBy(before, 'forbidden'), 1)
  t.equal(refusedBy(after, 'invalid') - refusedBy(before, 'invalid'), 4 + 3, '4 over REST, 3 frames')
  for (const reason of ['rate_limited', 'queue_full', 'shutting_down']) t.equal(refusedBy(after, reason), 0)
  t.equal(after.value('chat_messages_accepted_total', { transport: 'rest' }), 0)
  t.equal(after.value('chat_messages_accepted_total', { transport: 'ws' }), 0)
  await client.close()
})

t.test('queue depth, queue_full, dead letters and their replay follow the database', async (t) => {
  const mongo = await startMongo(t)
  const link = await mongoProxy(t, mongo.uri)
  // One attempt per batch, and a window long enough for the three posts to form at most two batches.
  const service = await buildService(t, { writeQueueMax: 3, retryAttempts: 0, writeBatchWindowMs: 300 }, { uri: link.uri, db: mongo.db })
  const metricsUrl = `${service.base}/metrics`
  link.down()

  const sent = await Promise.all([1, 2, 3].map((i) => post(`${service.base}/api/messages/team`, { content: `m${i}` }, bearer(alice))))
  t.same(sent.map((response) => response.status), [201, 201, 201])
  t.equal((await post(`${service.base}/api/messages/team`, { content: 'one too many' }, bearer(alice))).status, 503)
  const queued = await scrape(metricsUrl)
  t.equal(queued.value('chat_write_queue_depth'), 3, 'read when scraped')
  t.equal(refusedBy(queued, 'queue_full'), 1)

  const handedOff = await eventually(() => scrape(metricsUrl), (scraped) => scraped.value('chat_messages_dead_lettered_total') === 3, 30_000)
  t.equal(handedOff.value('chat_write_queue_depth'), 0)
  t.equal(handedOff.value('chat_messages_stored_total'), 0)
  t.ok(handedOff.histogram('chat_write_batch_duration_seconds').count >= 1, 'failed attempts are timed too')

  link.up()
  const replayed = await eventually(() => scrape(metricsUrl), (scraped) => scraped.value('chat_messages_replayed_total') === 3, 30_000)
  t.equal(replayed.value('chat_messages_stored_total'), 0, 'replays are counted apart from the writer')
  t.equal(await service.collection.countDocuments(), 3)
})

t.test('process and Node.js metrics; no Redis metric without REDIS_URL', async (t) => {
  const service = await buildService(t)
  const scraped = await scrape(`${service.base}/metrics`)
  for (const name of ['process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'process_resident_memory_bytes']) {
    t.ok(scraped.has(name), name)
  }
  t.notOk(scraped.has('nodejs_active_handles'), 'no metric that walks every socket at each scrape')
  t.notOk(scraped.has('chat_redis_up'))
})

t.test('two instances in one process keep their own counts, beside the same process metrics', async (t) => {
  const mongo = await startMongo(t)
  const first = await buildService(t, {}, mongo)
  const second = await buildService(t, {}, { uri: mongo.uri, db: `${mongo.db}_2` })
  t.equal((await post(`${first.base}/api/messages/team`, { content: 'first only' }, bearer(alice))).status, 201)
  const [one, two] = await Promise.all([scrape(`${first.base}/metrics`), scrape(`${second.base}/metrics`)])
  t.equal(one.value('chat_messages_accepted_total', { transport: 'rest' }), 1)
  t.equal(two.value('chat_messages_accepted_total', { transport: 'rest' }), 0)
  t.ok(one.has('process_cpu_seconds_total') && two.has('process_cpu_seconds_total'))
})

t.test('METRICS=false: no route, nothing counted', async (t) => {
  const service = await buildService(t, { metrics: false })
  t.match(await get(`${service.base}/metrics`), { status: 404, body: { code: 'CHAT_NOT_FOUND' } })
  t.equal((await post(`${service.base}/api/messages/team`, { content: 'still works' }, bearer(alice))).status, 201)
})

t.test("mounted with the host's registry: one /metrics serves both, and closing takes the chat metrics out", async (t) => {
  const mongo = await startMongo(t)
  const registry = new Registry()
  const hostRequests = new Counter({ name: 'host_requests_total', help: 'Requests the host served', registers: [registry] })
  const host = Fastify()
  host.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()))
  host.get('/hello', async () => { hostRequests.inc(); return 'hi' })
  await host.register(chat, { prefix: '/chat', mongoUri: mongo.uri, mongoDb: mongo.db, jwtSecret: SECRET, metricsRegistry: registry, metrics: false })
  await host.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => host.close())
  const base = `http://127.0.0.1:${(host.server.address() as { port: number }).port}`

  await fetch(`${base}/hello`)
  t.equal((await post(`${base}/chat/api/messages/team`, { content: 'hi' }, bearer(alice))).status, 201)
  const both = await scrape(`${base}/metrics`)
  t.equal(both.value('host_requests_total'), 1)
  t.equal(both.value('chat_messages_accepted_total', { transport: 'rest' }), 1)
  t.notOk(both.has('process_cpu_seconds_total'), "process metrics are the host's choice in its own registry")
  t.equal((await get(`${base}/chat/metrics`)).status, 404, 'METRICS=false: the host serves the registry, the service does not')

  const second = Fastify()
  second.register(chat, { prefix: '/chat', mongoUri: mongo.uri, mongoDb: mongo.db, jwtSecret: SECRET, metricsRegistry: registry })
  await t.rejects(async () => { await second.ready() }, /Each chat instance needs a registry of its own/, 'a second instance cannot share the registry')
  await second.close()
  t.ok(registry.getSingleMetric('chat_messages_accepted_total'), "the failed instance left the first one's metrics alone")

  await host.close()
  t.equal(registry.getSingleMetric('chat_messages_accepted_total'), undefined, 'closing takes the chat metrics out')
  t.ok(registry.getSingleMetric('host_requests_total'), "and leaves the host's")

  // With METRICS on, the service's own /metrics serves the host's registry, host metrics included.
  const again = Fastify()
  await again.register(chat, { prefix: '/chat', mongoUri: mongo.uri, mongoDb: mongo.db, jwtSecret: SECRET, metricsRegistry: registry })
  await again.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => again.close())
  const served = await scrape(`http://127.0.0.1:${(again.server.address() as { port: number }).port}/chat/metrics`)
  t.equal(served.value('host_requests_total'), 1)
  t.equal(served.value('chat_messages_accepted_total', { transport: 'rest' }), 0, 'a new instance starts from 0')
})

t.test('with Redis: deliveries of messages from other instances, and the Redis state', async (t) => {
  const redis = await startRedis(t)
  const mongo = await startMongo(t)
  const a = await buildService(t, { redisUrl: redis.url }, mongo)
  const b = await buildService(t, { redisUrl: redis.url }, mongo)
  await eventually(() => scrape(`${a.base}/metrics`), (scraped) => scraped.value('chat_redis_up') === 1)
  const listeners = await Promise.all([alice, bob].map((user) => Client.open(`${b.ws}?channel=team`, { headers: bearer(user) })))
  await eventually(() => get(`${a.base}/api/messages/counts?channels=team`), (response) => response.body.team === 2)

  for (let i = 0; i < 3; i++) t.equal((await post(`${a.base}/api/messages/team`, { content: `across ${i}` }, bearer(alice))).status, 201)
  await Promise.all(listeners.map((listener) => listener.receive(3)))
  t.equal((await scrape(`${a.base}/metrics`)).value('chat_deliveries_total'), 0, 'A has no sockets of its own')
  t.equal((await scrape(`${b.base}/metrics`)).value('chat_deliveries_total'), 3 * 2, "B wrote A's 3 messages to its 2 sockets")
  t.equal((await scrape(`${b.base}/metrics`)).value('chat_messages_accepted_total', { transport: 'rest' }), 0, 'accepted where sent')

  await redis.stop()
  await eventually(() => scrape(`${b.base}/metrics`), (scraped) => scraped.value('chat_redis_up') === 0)
  await redis.start()
  await eventually(() => scrape(`${b.base}/metrics`), (scraped) => scraped.value('chat_redis_up') === 1, 20_000)
  t.pass('chat_redis_up follows Redis down and back')
  await Promise.all(listeners.map((listener) => listener.close()))
})
