// kill -9 in the middle of a stream: with ACK_AFTER_STORE an ack means stored, so a client that
// resends every unacknowledged message with its clientId loses nothing and duplicates nothing.
import t from 'tap'
import { join } from 'node:path'
import { MongoClient } from 'mongodb'
import { bearer, Client, eventually, sleep, startMongo, startServerProcess } from './helper.js'

const alice = { id: 'alice', groups: ['team'] }
const TOTAL = 400

t.test('ACK_AFTER_STORE: kill -9 mid-stream, resend the unacknowledged: each message stored once, every acked one under its acked id', async (t) => {
  const mongo = await startMongo(t)
  const env = {
    MONGO_URI: mongo.uri,
    MONGO_DB: mongo.db,
    ACK_AFTER_STORE: 'true',
    WRITE_BATCH_SIZE: '20',
    DEAD_LETTER_FILE: join(t.testdir(), 'dead-letter.jsonl')
  }
  const acked = new Map<string, string>()
  const collectAcks = (client: Client) => client.socket.on('message', (data) => {
    const frame = JSON.parse(data.toString())
    if (frame.ack !== undefined) acked.set(frame.ack.clientId, frame.ack.id)
  })

  const first = await startServerProcess(t, env)
  const sender = await Client.open(`${first.base.replace('http', 'ws')}/ws?channel=team`, { headers: bearer(alice) })
  collectAcks(sender)
  const clientIds = Array.from({ length: TOTAL }, (_, i) => `msg-${i}`)
  for (const clientId of clientIds) sender.send({ content: `content of ${clientId}`, clientId })
  await eventually(() => acked.size, (count) => count >= TOTAL / 4, 20_000)
  first.signal('SIGKILL')
  await first.exited
  const ackedBeforeCrash = new Map(acked)
  t.ok(ackedBeforeCrash.size < TOTAL, `the crash came mid-stream (${ackedBeforeCrash.size} of ${TOTAL} acked)`)

  const client = new MongoClient(mongo.uri)
  t.teardown(() => client.close())
  const collection = client.db(mongo.db).collection('messages')
  for (const [clientId, id] of ackedBeforeCrash) {
    const stored = await collection.findOne({ clientId })
    if (stored?._id.toHexString() !== id) t.fail(`${clientId} was acked as ${id} but MongoDB has ${stored?._id.toHexString()}`)
  }
  t.pass('every message acked before the crash is in MongoDB under its acked id')

  const second = await startServerProcess(t, env)
  const resender = await Client.open(`${second.base.replace('http', 'ws')}/ws?channel=team`, { headers: bearer(alice) })
  collectAcks(resender)
  const unacked = clientIds.filter((clientId) => !ackedBeforeCrash.has(clientId))
  for (const clientId of unacked) resender.send({ content: `content of ${clientId}`, clientId })
  await eventually(() => acked.size, (count) => count === TOTAL, 30_000)

  await sleep(300)
  const stored = await collection.find({ channel: 'team' }).toArray()
  t.equal(stored.length, TOTAL, 'each message stored once')
  t.same(stored.map((doc) => doc.clientId).sort(), [...clientIds].sort())
  for (const doc of stored) {
    if (acked.get(doc.clientId) !== doc._id.toHexString()) t.fail(`${doc.clientId} stored as ${doc._id.toHexString()}, acked as ${acked.get(doc.clientId)}`)
  }
  t.pass('every ack names the stored id')
  t.same([...ackedBeforeCrash].filter(([clientId, id]) => acked.get(clientId) !== id), [], 'no ack changed its mind')
  await resender.close()
})
