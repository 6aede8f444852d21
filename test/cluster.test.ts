// Three instances as separate processes sharing one MongoDB and one Redis.
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { MongoClient } from 'mongodb'
import { join } from 'node:path'
import {
  bearer, Client, eventually, get, mongoProxy, post, sleep, startMongo, startRedis, startServerProcess, type ServerProcess
} from './helper.js'

const COUNTS_TTL_MS = 1_500
const member = (id: string) => bearer({ id, groups: ['team', 'other'] })
const wsUrl = (server: ServerProcess, channel = 'team') => `${server.base.replace('http', 'ws')}/ws?channel=${channel}`

/** Three instances on one MongoDB and one Redis; `mongoUriOf` may put an instance behind a proxy. */
async function cluster (t: Test, mongoUriOf: (uri: string, instance: number) => string | Promise<string> = (uri) => uri) {
  const mongo = await startMongo(t)
  const redis = await startRedis(t)
  const directory = t.testdir()
  const servers = await Promise.all([0, 1, 2].map(async (i) => startServerProcess(t, {
    MONGO_URI: await mongoUriOf(mongo.uri, i),
    MONGO_DB: mongo.db,
    REDIS_URL: redis.url,
    COUNTS_TTL_MS: String(COUNTS_TTL_MS),
    DEAD_LETTER_FILE: join(directory, `dead-letter-${i}.jsonl`)
  })))
  return { mongo, redis, servers }
}


t.test('every client on every instance gets every message of its channel exactly once, in each publisher\'s order', async (t) => {
  const { servers, mongo } = await cluster(t)
  const clients = await Promise.all(servers.flatMap((server, i) => [
    Client.open(wsUrl(server), { headers: member(`u${i}a`) }),
    Client.open(wsUrl(server), { headers: member(`u${i}b`) })
  ]))
  const elsewhere = await Client.open(wsUrl(servers[0]!, 'other'), { headers: member('x') })

  const perPublisher = 20
  const sent = await Promise.all(servers.map(async (server, i) => {
    const ids: string[] = []
    for (let n = 0; n < perPublisher; n++) {
      ids.push((await post(`${server.base}/api/messages/team`, { content: `from ${i}: ${n}` }, member(`p${i}`))).body.id)
    }
    return ids
  }))
  // One more over a WebSocket on the last instance.
  clients[5]!.send({ content: 'over ws' })
  const total = servers.length * perPublisher + 1

  for (const client of clients) {
    const frames = await client.receive(total, 10_000)
    t.equal(new Set(frames.map((frame) => frame.id)).size, total, 'each message once')
    for (const ids of sent) {
      const order = frames.map((frame) => frame.id).filter((id) => ids.includes(id))
      t.same(order, ids, 'in the order its publisher sent')
    }
  }
  await sleep(300)
  t.ok(clients.every((client) => client.frames.length === total), 'nothing arrives twice')
  t.same(elsewhere.frames, [], 'other channels get nothing')

  const collection = new MongoClient(mongo.uri)
  t.teardown(() => collection.close())
  await eventually(() => collection.db(mongo.db).collection('messages').countDocuments(), (count) => count === total)
})

t.test('counts are cluster-wide; a killed instance leaves them within the TTL, a stopped one at once', async (t) => {
  const { servers } = await cluster(t)
  const counts = (server: ServerProcess) => get(`${server.base}/api/messages/counts?channels=team,other,none`)
  const open = (server: ServerProcess, count: number) => Promise.all(Array.from({ length: count }, (_, i) => Client.open(wsUrl(server), { headers: member(`c${i}`) })))
  await open(servers[0]!, 1)
  await open(servers[1]!, 2)
  await open(servers[2]!, 3)
  for (const server of servers) {
    t.same((await eventually(() => counts(server), (response) => response.body.team === 6)).body, { team: 6, other: 0, none: 0 })
  }

  const killed = Date.now()
  servers[2]!.signal('SIGKILL')
  await eventually(() => counts(servers[0]!), (response) => response.body.team === 3, COUNTS_TTL_MS + 2_000)
  const vanishedAfter = Date.now() - killed
  t.ok(vanishedAfter <= COUNTS_TTL_MS + 1_000, `a crashed instance's clients left the counts after ${vanishedAfter} ms (TTL ${COUNTS_TTL_MS} ms)`)

  const stopped = Date.now()
  servers[1]!.signal('SIGTERM')
  await servers[1]!.exited
  await eventually(() => counts(servers[0]!), (response) => response.body.team === 1, 1_000)
  t.ok(Date.now() - stopped < COUNTS_TTL_MS, 'a clean shutdown removes its counts before the TTL could')
})

t.test('Redis down: local delivery and storage go on; Redis back: fan-out resumes by itself', async (t) => {
  const { servers, redis, mongo } = await cluster(t)
  const [a, b] = [servers[0]!, servers[1]!]
  const onA = await Client.open(wsUrl(a), { headers: member('a') })
  const onB = await Client.open(wsUrl(b), { headers: member('b') })
  const first = (await post(`${a.base}/api/messages/team`, { content: 'before' }, member('p'))).body.id
  t.same((await onB.receive(1))[0].id, first)

  await redis.stop()
  const during = await post(`${a.base}/api/messages/team`, { content: 'while Redis is down' }, member('p'))
  t.equal(during.status, 201)
  t.same((await onA.receive(2))[1].id, during.body.id, 'local clients still get it')
  await eventually(() => get(`${a.base}/ready`), (response) => response.body.redis === 'down')
  t.equal((await get(`${a.base}/ready`)).status, 200, 'still ready: Redis is reported, not required')
  t.equal((await get(`${a.base}/api/messages/counts?channels=team`)).status, 503, 'cluster counts are refused rather than wrong')
  const collection = new MongoClient(mongo.uri)
  t.teardown(() => collection.close())
  await eventually(() => collection.db(mongo.db).collection('messages').countDocuments({ content: 'while Redis is down' }), (count) => count === 1)

  await redis.start()
  await eventually(() => Promise.all(servers.map((server) => get(`${server.base}/ready`))), (responses) => responses.every((response) => response.body.redis === 'up'), 20_000)
  const after = (await post(`${a.base}/api/messages/team`, { content: 'after' }, member('p'))).body.id
  const frames = await onB.receive(2, 10_000)
  t.same(frames.map((frame) => frame.id), [first, after], 'delivery across instances resumed without restarts')
  t.same((await eventually(() => get(`${a.base}/api/messages/counts?channels=team`), (response) => response.body.team === 2)).body, { team: 2 })
})

t.test('an instance subscribes only to the channels its local clients are on', async (t) => {
  const { servers, redis } = await cluster(t)
  const inspector = new Redis(redis.url)
  t.teardown(() => inspector.disconnect())
  const subscribed = async () => (await inspector.pubsub('CHANNELS', 'chat:*') as string[]).sort()
  t.same(await subscribed(), [])
  const clients = await Promise.all(['team', 'other', 'team'].map((channel, i) => Client.open(wsUrl(servers[i]!, channel), { headers: member(`s${i}`) })))
  t.same(await eventually(subscribed, (channels) => channels.length === 2), ['chat:{other}:messages', 'chat:{team}:messages'])
  const teamSubscribers = async () => Number((await inspector.pubsub('NUMSUB', 'chat:{team}:messages') as Array<string | number>)[1])
  t.equal(await eventually(teamSubscribers, (count) => count === 2), 2, 'two instances hold team')
  await Promise.all(clients.map((client) => client.close()))
  t.same(await eventually(subscribed, (channels) => channels.length === 0), [], 'unsubscribed after the last local client left')
})

t.test('since= on any instance: every message sent after it, whichever instance took it, once, in the one order all instances agree on', async (t) => {
  const { servers } = await cluster(t)
  const watcher = await Client.open(wsUrl(servers[2]!), { headers: member('watcher') })
  const leaving = await Client.open(wsUrl(servers[0]!), { headers: member('leaving') })
  const last = (await post(`${servers[0]!.base}/api/messages/team`, { content: 'last seen' }, member('p'))).body
  t.equal((await leaving.receive(1))[0].id, last.id)
  await leaving.close()

  // 45 messages, 15 per instance, sent concurrently so that the instances interleave.
  const posted = await Promise.all(Array.from({ length: 45 }, (_, i) =>
    post(`${servers[i % 3]!.base}/api/messages/team`, { content: `m${i}` }, member(`p${i % 3}`))))
  t.ok(posted.every((answer) => answer.status === 201))

  const back = await Client.open(`${wsUrl(servers[1]!)}&since=${last.id}`, { headers: member('leaving') })
  const caughtUp = await back.receive(45, 15_000)
  t.equal(new Set(caughtUp.map((frame) => frame.id)).size, 45, 'all 45, none twice')
  t.same(caughtUp.map((frame) => frame.id).sort(), posted.map((answer) => answer.body.id).sort())
  t.ok(caughtUp.every((frame, i) => frame.seq === (i === 0 ? last.seq : caughtUp[i - 1].seq) + 1), 'in seq order, contiguous after the last one seen')

  const live = (await watcher.receive(46)).slice(1)
  t.same(live.map((frame) => frame.id), caughtUp.map((frame) => frame.id), 'a client that stayed connected saw the same order live')
  for (const server of servers) {
    const page = await get(`${server.base}/api/messages/team?after=${last.id}&limit=200`, member('reader'))
    t.same(page.body.map((message: any) => message.id), caughtUp.map((frame) => frame.id), `history after= on ${server.base} agrees`)
  }
  await sleep(300)
  t.equal(back.frames.length, 45, 'nothing more arrives')
  await Promise.all([watcher.close(), back.close()])
})

t.test('since= on another instance waits for a message still queued on the instance that accepted it', async (t) => {
  let slowLink: Awaited<ReturnType<typeof mongoProxy>> | undefined
  const { servers } = await cluster(t, async (uri, instance) => {
    if (instance !== 0) return uri
    slowLink = await mongoProxy(t, uri)
    return slowLink.uri
  })
  const [slow, other] = [servers[0]!, servers[1]!]
  const seen = (await post(`${other.base}/api/messages/team`, { content: 'seen' }, member('p'))).body
  // The instance that accepts the next message cannot store it for a while.
  slowLink!.stall()
  const queued = (await post(`${slow.base}/api/messages/team`, { content: 'queued elsewhere' }, member('p'))).body
  const back = await Client.open(`${wsUrl(other)}&since=${seen.id}`, { headers: member('back') })
  await sleep(500)
  t.same(back.frames, [], 'the catch-up waits rather than skipping a message it knows exists')
  slowLink!.unstall()
  const [caughtUp] = await back.receive(1, 10_000)
  t.same([caughtUp.id, caughtUp.seq], [queued.id, seen.seq + 1])
  await back.close()
})
