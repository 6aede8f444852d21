import t, { type Test } from 'tap'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { MongoClient } from 'mongodb'
import {
  bearer, buildService, Client, eventually, isRunning, mongoProxy, post, sleep, startMongo, startServerProcess, stuckClient,
  type ServerProcess
} from './helper.js'

t.test('SIGTERM with a full queue and a slow database: every accepted message ends up in MongoDB or the dead-letter file, and a restart replays the file', async (t) => {
  const mongo = await startMongo(t)
  const slow = await mongoProxy(t, mongo.uri, 300)
  const deadLetterFile = join(t.testdir(), 'dead-letter.jsonl')
  const env = { MONGO_DB: mongo.db, DEAD_LETTER_FILE: deadLetterFile, WRITE_BATCH_SIZE: '10', SHUTDOWN_TIMEOUT_MS: '1000' }
  const server = await startServerProcess(t, { ...env, MONGO_URI: slow.uri })

  const user = bearer({ id: 'u', groups: ['team'] })
  const responses = await Promise.all(Array.from({ length: 200 }, (_, i) => post(`${server.base}/api/messages/team`, { content: `m${i}` }, user)))
  t.ok(responses.every((response) => response.status === 201))
  const accepted = responses.map((response) => response.body.id as string)

  server.signal('SIGTERM')
  t.equal(await server.exited, 0, 'exits 0')

  const client = new MongoClient(mongo.uri)
  t.teardown(() => client.close())
  const collection = client.db(mongo.db).collection('messages')
  const stored = (await collection.find().toArray()).map((doc) => doc._id.toHexString())
  const deadLettered = (await readFile(deadLetterFile, 'utf8')).trim().split('\n').map((line) => JSON.parse(line)._id as string)
  t.ok(stored.length < 200 && deadLettered.length > 0, `the deadline cut the flush short (${stored.length} stored, ${deadLettered.length} dead-lettered)`)
  // A batch in flight at the deadline may have landed or not; it is dead-lettered either way,
  // which is harmless because replay skips what is already stored.
  t.same([...new Set([...stored, ...deadLettered])].sort(), [...accepted].sort(), 'every accepted message is in one of the two, nothing else is')

  const restarted = await startServerProcess(t, { ...env, MONGO_URI: mongo.uri })
  const all = await eventually(() => collection.find().toArray(), (docs) => docs.length >= 200, 20_000)
  t.same(all.map((doc) => doc._id.toHexString()).sort(), [...accepted].sort(), 'after replay, all stored exactly once')
  restarted.signal('SIGTERM')
  t.equal(await restarted.exited, 0)
})

t.test('SIGTERM while MongoDB hangs: the process still exits 0 in time and every accepted message is dead-lettered', async (t) => {
  const mongo = await startMongo(t)
  const link = await mongoProxy(t, mongo.uri)
  const deadLetterFile = join(t.testdir(), 'dead-letter.jsonl')
  const server = await startServerProcess(t, { MONGO_URI: link.uri, MONGO_DB: mongo.db, DEAD_LETTER_FILE: deadLetterFile, SHUTDOWN_TIMEOUT_MS: '1000' })
  const user = bearer({ id: 'u', groups: ['team'] })
  t.equal((await post(`${server.base}/api/messages/team`, { content: 'before the hang' }, user)).status, 201)
  link.stall()
  const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => post(`${server.base}/api/messages/team`, { content: `m${i}` }, user)))
  t.ok(responses.every((response) => response.status === 201))
  const started = Date.now()
  server.signal('SIGTERM')
  t.equal(await server.exited, 0, 'exits 0')
  t.ok(Date.now() - started < 5_000, `within the deadline and its grace (${Date.now() - started} ms)`)
  const deadLettered = new Set((await readFile(deadLetterFile, 'utf8')).split('\n').filter(Boolean).map((line) => JSON.parse(line)._id as string))
  const missing = responses.map((response) => response.body.id as string).filter((id) => !deadLettered.has(id))
  t.same(missing, [], 'every message accepted during the hang is in the dead-letter file')
})

const member = { id: 'u', groups: ['team'] }
const wsBase = (server: ServerProcess) => server.base.replace('http', 'ws')
const postMany = async (server: ServerProcess, count: number): Promise<string[]> => {
  const responses = await Promise.all(Array.from({ length: count }, (_, i) => post(`${server.base}/api/messages/team`, { content: `m${i}` }, bearer(member))))
  if (!responses.every((response) => response.status === 201)) throw new Error(`not all accepted: ${JSON.stringify(responses.map((r) => r.status))}`)
  return responses.map((response) => response.body.id as string)
}
/** The force-exit timer of server.ts: SHUTDOWN_TIMEOUT_MS plus the bounded close steps. */
const forceExitDelayMs = (shutdownTimeoutMs: number) => shutdownTimeoutMs + 15_000

t.test('SIGTERM with the database down, a client that never answers the close and a request that never ends: exit 0 well before the force-exit timer, and after a restart every accepted message is stored exactly once', async (t) => {
  const mongo = await startMongo(t)
  const link = await mongoProxy(t, mongo.uri)
  const deadLetterFile = join(t.testdir(), 'dead-letter.jsonl')
  const env = { MONGO_DB: mongo.db, DEAD_LETTER_FILE: deadLetterFile, SHUTDOWN_TIMEOUT_MS: '1000' }
  const server = await startServerProcess(t, { ...env, MONGO_URI: link.uri })
  await stuckClient(`${wsBase(server)}/ws?channel=team`, bearer(member))
  // And a request whose body never ends: Node would wait 5 minutes for it.
  const hangingRequest = connect(Number(new URL(server.base).port), '127.0.0.1').on('error', () => {})
  t.teardown(() => hangingRequest.destroy())
  hangingRequest.write('GET /api/messages/counts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"chan')
  link.down()
  const accepted = await postMany(server, 500)

  const started = Date.now()
  server.signal('SIGTERM')
  t.equal(await server.exited, 0, 'exits 0')
  const elapsed = Date.now() - started
  t.ok(elapsed < forceExitDelayMs(1000) - 5_000, `closed in ${elapsed} ms: the stuck client and the request were cut off after their grace`)
  t.ok(server.logs.some((entry) => entry.count === 500 && /dead-letter/.test(entry.msg)), 'all 500 were dead-lettered')

  link.up()
  const restarted = await startServerProcess(t, { ...env, MONGO_URI: mongo.uri })
  const client = new MongoClient(mongo.uri)
  t.teardown(() => client.close())
  const collection = client.db(mongo.db).collection('messages')
  await eventually(() => collection.countDocuments(), (count) => count >= accepted.length, 20_000)
  const stored = await collection.find({}, { projection: { _id: 1 } }).toArray()
  t.same(stored.map((doc) => doc._id.toHexString()).sort(), [...accepted].sort(), 'replayed: each stored once')
  restarted.signal('SIGTERM')
  t.equal(await restarted.exited, 0)
})

t.test('embedded mode: no jongodb process outlives the service, whatever the exit', async (t) => {
  const embedded = async (t: Test) => {
    const server = await startServerProcess(t, { MONGO_URI: undefined, DEAD_LETTER_FILE: join(t.testdir(), 'dead-letter.jsonl') })
    const pid = server.logs.find((entry) => /embedded in-memory/.test(entry.msg))?.jongodbPid as number
    t.ok(isRunning(pid), `jongodb runs as pid ${pid}`)
    await stuckClient(`${wsBase(server)}/ws?channel=team`, bearer(member))
    await postMany(server, 10)
    return { server, pid }
  }

  t.test('SIGTERM with a client that never answers the close', async (t) => {
    const { server, pid } = await embedded(t)
    server.signal('SIGTERM')
    t.equal(await server.exited, 0)
    t.notOk(isRunning(pid), 'jongodb is gone')
  })

  t.test('a second SIGTERM exits at once, before the close hooks that stop jongodb', async (t) => {
    const { server, pid } = await embedded(t)
    server.signal('SIGTERM')
    await sleep(200)
    server.signal('SIGTERM')
    t.equal(await server.exited, 1)
    await eventually(() => isRunning(pid), (running) => !running, 5_000)
    t.pass('jongodb is gone')
  })

  t.test('SIGKILL of the service (the kernel kills jongodb with it, through setpriv --pdeathsig)', async (t) => {
    const { server, pid } = await embedded(t)
    server.signal('SIGKILL')
    await server.exited
    await eventually(() => isRunning(pid), (running) => !running, 5_000)
    t.pass('jongodb is gone')
  })
})

t.test('SIGTERM while neither MongoDB nor the dead-letter file takes messages: exit 2, and a fatal log line counts the lost ones', async (t) => {
  const mongo = await startMongo(t)
  const link = await mongoProxy(t, mongo.uri)
  const directory = join(t.testdir(), 'dead-letters')
  const server = await startServerProcess(t, { MONGO_URI: link.uri, MONGO_DB: mongo.db, DEAD_LETTER_FILE: join(directory, 'messages.jsonl'), SHUTDOWN_TIMEOUT_MS: '500' })
  link.down()
  await postMany(server, 30)
  // The checked directory is replaced by a regular file: no append can land any more.
  await rm(directory, { recursive: true })
  await writeFile(directory, 'not a directory')
  server.signal('SIGTERM')
  t.equal(await server.exited, 2)
  t.match(server.logs.find((entry) => entry.level === 60), { count: 30, msg: /LOST/ })
})

t.test('mounted: host.close() cuts off a client that never answers the closing handshake after about a second; one that answers gets 1001', async (t) => {
  const service = await buildService(t)
  await stuckClient(`${service.ws}?channel=team`, bearer(member))
  const answering = await Client.open(`${service.ws}?channel=team`, { headers: bearer(member) })
  const started = Date.now()
  await service.host.close()
  const elapsed = Date.now() - started
  // ws alone waits 30 s for the client's close frame.
  t.ok(elapsed < 5_000, `closed in ${elapsed} ms`)
  t.match(await answering.closed, { code: 1001 })
})
