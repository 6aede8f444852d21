// What happens to accepted messages when MongoDB is down, slow, or the process stops.
import t from 'tap'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  bearer, buildService, Client, eventually, freePort, get, mongoProxy, post, sleep, startMongo, stoppableMongo
} from './helper.js'

const skipWithRealMongo = { skip: process.env.TEST_MONGO_URI ? 'needs databases it can stop' : false }
const member = { id: 'alice', groups: ['team'] }
const send = (base: string, content: string) => post(`${base}/api/messages/team`, { content }, bearer(member))

t.test('a full write queue refuses new messages with 503 and Retry-After, or an error frame; accepted ones are kept', skipWithRealMongo, async (t) => {
  const mongo = await stoppableMongo(t)
  const service = await buildService(t, { writeQueueMax: 5, retryAttempts: 100 }, { uri: mongo.uri, db: 'cap' })
  await mongo.stop()
  const accepted: string[] = []
  for (let i = 0; i < 5; i++) accepted.push((await send(service.base, `m${i}`)).body.id)
  const refused = await send(service.base, 'one too many')
  t.equal(refused.status, 503)
  t.equal(refused.headers.get('retry-after'), '5')
  t.match(refused.body, { statusCode: 503, code: 'CHAT_UNAVAILABLE', error: 'Service Unavailable', message: /too many messages/ })

  const client = await Client.open(`${service.ws}?channel=team`, { headers: bearer(member) })
  for (let i = 0; i < 20; i++) client.send({ content: `ws ${i}` })
  const frames = await client.receive(20)
  t.ok(frames.every((frame) => frame.error?.code === 'CHAT_UNAVAILABLE'), 'every frame over the cap gets an error frame')
  const ready = await get(`${service.base}/ready`)
  t.equal(ready.body.queueDepth, 5, 'the queue holds exactly its cap, no more')

  await mongo.start()
  await eventually(() => service.collection.find().toArray(), (docs) => docs.length === 5, 20_000)
  t.same((await service.collection.find().toArray()).map((doc) => doc._id.toHexString()).sort(), accepted.sort())
  t.equal((await send(service.base, 'room again')).status, 201)
  await client.close()
})

t.test('readiness follows the database, the queue threshold and shutdown', skipWithRealMongo, async (t) => {
  const mongo = await stoppableMongo(t)
  const service = await buildService(t, { readyQueueThreshold: 2, retryAttempts: 100 }, { uri: mongo.uri, db: 'ready' })
  t.match(await get(`${service.base}/ready`), { status: 200, body: { status: 'ready', database: 'up', queueDepth: 0, accepting: true } })
  t.same((await get(`${service.base}/health`)).body, { status: 'ok' })

  await mongo.stop()
  t.match(await get(`${service.base}/ready`), { status: 503, body: { status: 'not ready', database: 'down' } })
  t.same((await get(`${service.base}/health`)).body, { status: 'ok' }, 'liveness does not depend on the database')
  t.match(await get(`${service.base}/api/messages/team`, bearer(member)), { status: 503, body: { code: 'CHAT_UNAVAILABLE', message: /database/ } }, 'history says the database is away, not 500')
  for (let i = 0; i < 3; i++) await send(service.base, `m${i}`)
  await mongo.start()
  const overThreshold = await get(`${service.base}/ready`)
  t.ok(overThreshold.status === 503 || overThreshold.body.queueDepth <= 2, 'not ready while the queue is over its threshold')
  await eventually(() => get(`${service.base}/ready`), (response) => response.status === 200, 20_000)
})

t.test('MongoDB unreachable at start: the service starts, is not ready, and catches up when it appears', skipWithRealMongo, async (t) => {
  const port = await freePort()
  const uri = `mongodb://127.0.0.1:${port}/?directConnection=true`
  const service = await buildService(t, { retryAttempts: 100 }, { uri, db: 'late' })
  t.equal((await get(`${service.base}/ready`)).status, 503)
  const accepted = await Promise.all([1, 2, 3].map(async (i) => (await send(service.base, `early ${i}`)).body.id))

  const { startEmbeddedMongo } = await import('../lib/storage/embedded-mongo.js')
  const late = await startEmbeddedMongo(port)
  t.teardown(() => late.stop())
  await eventually(() => get(`${service.base}/ready`), (response) => response.status === 200, 30_000)
  const stored = await eventually(() => service.collection.find().toArray(), (docs) => docs.length === 3, 30_000)
  t.same(stored.map((doc) => doc._id.toHexString()).sort(), accepted.sort())
  const indexes = await eventually(() => service.collection.indexes(), (list) => list.length === 4, 30_000)
  t.ok(indexes.some((index) => index.name === 'channel_seq'), 'indexes are created once the database is there')
})

t.test('retries exhausted: the batch goes to the dead-letter file, and a restart replays it exactly once', skipWithRealMongo, async (t) => {
  const mongo = await stoppableMongo(t)
  const directory = t.testdir()
  const deadLetterFile = join(directory, 'dead-letter.jsonl')
  // Each attempt against a stopped server waits out server selection (5 s): a window long
  // enough for the four concurrent posts to form at most two batches (the first may go alone,
  // at once) keeps the test within its timeout. Two batches, one after the other, of two
  // attempts each take about 20 s, more on a slow machine: the waits below allow 45 s.
  const options = { retryAttempts: 1, writeRetryMaxDelayMs: 20, writeBatchWindowMs: 500, deadLetterFile }
  // The file, and the copies a replay renames it to while it retries against a database still down.
  const deadLetterLines = async () => {
    const files = (await readdir(directory)).filter((name) => name.startsWith('dead-letter.jsonl'))
    const texts = await Promise.all(files.map((name) => readFile(join(directory, name), 'utf8').catch(() => '')))
    return texts.join('').split('\n').filter((line) => line !== '')
  }
  const first = await buildService(t, options, { uri: mongo.uri, db: 'dlq' })
  await mongo.stop()
  const accepted = await Promise.all([1, 2, 3, 4].map(async (i) => (await send(first.base, `lost? ${i}`)).body.id))
  const lines = await eventually(deadLetterLines, (found) => found.length === 4, 45_000)
  t.same(lines.map((line) => JSON.parse(line)._id).sort(), accepted.sort(), 'one JSON message per line')
  t.match(JSON.parse(lines[0]!), { channel: 'team', sender: 'alice', content: /lost/, createdAt: String })
  await first.host.close()

  await mongo.start()
  const second = await buildService(t, options, { uri: mongo.uri, db: 'dlq' })
  const stored = await eventually(() => second.collection.find().toArray(), (docs) => docs.length >= 4, 20_000)
  t.same(stored.map((doc) => doc._id.toHexString()).sort(), accepted.sort(), 'replayed, each exactly once')
  t.same(await eventually(deadLetterLines, (found) => found.length === 0), [], 'the files are gone once replayed')
})

t.test('MongoDB down for ~10 s under a steady 100 messages/s: every 2xx is stored exactly once, the rest were 503', async (t) => {
  const mongo = await startMongo(t)
  const link = await mongoProxy(t, mongo.uri)
  const service = await buildService(t, {
    writeQueueMax: 600, retryAttempts: 100, writeRetryMinDelayMs: 50, writeRetryMaxDelayMs: 500
  }, { uri: link.uri, db: mongo.db })

  const accepted: string[] = []
  let refused = 0
  const other: number[] = []
  const sendAt = async (i: number) => {
    const response = await send(service.base, `steady ${i}`)
    if (response.status === 201) accepted.push(response.body.id)
    else if (response.status === 503) refused++
    else other.push(response.status)
  }
  const pending: Array<Promise<void>> = []
  const started = Date.now()
  for (let i = 0; i < 1300; i++) {
    if (i === 100) link.down()
    if (i === 1100) link.up()
    pending.push(sendAt(i))
    await sleep(Math.max(0, started + i * 10 - Date.now()))
  }
  await Promise.all(pending)
  t.same(other, [], 'every answer was 201 or 503')
  t.ok(refused > 0, `the queue cap refused some (${refused}) once 600 were waiting`)
  t.equal(accepted.length + refused, 1300)
  const collection = service.mongo.db(mongo.db).collection('messages')
  const stored = await eventually(
    () => collection.find({}, { projection: { _id: 1 } }).toArray(),
    (docs) => docs.length >= accepted.length,
    60_000
  )
  t.same(stored.map((doc) => doc._id.toHexString()).sort(), [...accepted].sort(), 'exactly the accepted messages, each once')
})

t.test('a reconnecting client gets what it missed once, in order, before live messages', async (t) => {
  const service = await buildService(t)
  const first = await Client.open(`${service.ws}?channel=team`, { headers: bearer(member) })
  const seen = (await send(service.base, 'before the break')).body.id
  await first.receive(1)
  await first.close()

  const missed: string[] = []
  for (let i = 0; i < 5; i++) missed.push((await send(service.base, `missed ${i}`)).body.id)
  // Some are stored by now and some may still be queued: catch-up reads both.
  const back = new Client(`${service.ws}?channel=team&since=${seen}`, { headers: bearer(member) })
  await new Promise((resolve) => back.socket.once('open', resolve))
  const live = (await send(service.base, 'live')).body.id
  const frames = await back.receive(6)
  t.same(frames.map((frame) => frame.id), [...missed, live])
  await sleep(200)
  t.equal(back.frames.length, 6, 'nothing arrives twice')

  const forward = await get(`${service.base}/api/messages/team?after=${seen}&limit=3`, bearer(member))
  t.same(forward.body.map((message: any) => message.id), missed.slice(0, 3), 'REST after= pages forwards, oldest first')
  t.equal((await get(`${service.base}/api/messages/team?after=${seen}&before=${live}`, bearer(member))).status, 400)
  t.equal((await get(`${service.base}/api/messages/team?after=nope`, bearer(member))).status, 400)
  await back.close()
})

t.test('catch-up while messages keep arriving leaves no gap and no duplicate', async (t) => {
  const service = await buildService(t)
  const seen = (await send(service.base, 'start')).body.id
  const earlier = await Promise.all(Array.from({ length: 50 }, (_, i) => send(service.base, `burst ${i}`)))
  const back = new Client(`${service.ws}?channel=team&since=${seen}`, { headers: bearer(member) })
  const later = Promise.all(Array.from({ length: 50 }, (_, i) => send(service.base, `during ${i}`)))
  await new Promise((resolve) => back.socket.once('open', resolve))
  const sentAfterOpen = await later
  const all = [...earlier, ...sentAfterOpen].map((response) => response.body.id)
  const frames = await back.receive(100, 10_000)
  await sleep(200)
  t.equal(back.frames.length, 100, 'exactly once each')
  t.same(new Set(frames.map((frame) => frame.id)), new Set(all))
  const earlierIds = earlier.map((response) => response.body.id).sort()
  t.same(frames.slice(0, 50).map((frame) => frame.id).sort(), earlierIds, 'missed ones first')
})

t.test('a catch-up larger than the send buffer waits for a slow reader and still delivers everything in order', async (t) => {
  const service = await buildService(t)
  const seen = (await send(service.base, 'start')).body.id
  const big = 'x'.repeat(4000)
  const missed: string[] = []
  for (let i = 0; i < 3000; i += 100) {
    const batch = await Promise.all(Array.from({ length: 100 }, (_, j) => send(service.base, `${i + j} ${big}`)))
    missed.push(...batch.map((response) => response.body.id))
  }
  // ~12 MB of missed messages: more than the 8 MiB the service lets a client leave unread.
  const back = new Client(`${service.ws}?channel=team&since=${seen}`, { headers: bearer(member) })
  await new Promise((resolve) => back.socket.once('open', resolve))
  const tcp = (back.socket as unknown as { _socket: import('node:net').Socket })._socket
  tcp.pause()
  await sleep(1_000)
  t.ok(back.frames.length < missed.length, 'nothing more arrives while the client does not read')
  tcp.resume()
  const frames = await back.receive(missed.length, 30_000)
  const ids = [...missed].sort()
  t.same(frames.map((frame) => frame.id), ids, 'all of them, once, in order')
  t.equal(back.socket.readyState, back.socket.OPEN, 'the slow reader was not dropped')
  await back.close()
})
