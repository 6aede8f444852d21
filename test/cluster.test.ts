// Three instances as separate processes sharing one MongoDB and one Redis.
import t from 'tap'
import { Redis } from 'ioredis'
import { MongoClient } from 'mongodb'
import { bearer, Client, eventually, get, post, sleep, startCluster, wsUrlOf as wsUrl, type ServerProcess } from './helper.js'

const COUNTS_TTL_MS = 1_500
const member = (id: string) => bearer({ id, groups: ['team', 'other'] })

t.test('every client on every instance gets every message of its channel exactly once, in each publisher\'s order', async (t) => {
  const { servers, mongo } = await startCluster(t, { COUNTS_TTL_MS: String(COUNTS_TTL_MS) })
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
  const { servers } = await startCluster(t, { COUNTS_TTL_MS: String(COUNTS_TTL_MS) })
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
  const { servers, redis, mongo } = await startCluster(t, { COUNTS_TTL_MS: String(COUNTS_TTL_MS) })
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
  const { servers, redis } = await startCluster(t, { COUNTS_TTL_MS: String(COUNTS_TTL_MS) })
  const inspector = new Redis(redis.url)
  t.teardown(() => inspector.disconnect())
  // The message channels (chat:signals, for presence and typing, is always subscribed).
  const subscribed = async () => (await inspector.pubsub('CHANNELS', 'chat:{*}:messages') as string[]).sort()
  t.same(await subscribed(), [])
  const clients = await Promise.all(['team', 'other', 'team'].map((channel, i) => Client.open(wsUrl(servers[i]!, channel), { headers: member(`s${i}`) })))
  t.same(await eventually(subscribed, (channels) => channels.length === 2), ['chat:{other}:messages', 'chat:{team}:messages'])
  const teamSubscribers = async () => Number((await inspector.pubsub('NUMSUB', 'chat:{team}:messages') as Array<string | number>)[1])
  t.equal(await eventually(teamSubscribers, (count) => count === 2), 2, 'two instances hold team')
  await Promise.all(clients.map((client) => client.close()))
  t.same(await eventually(subscribed, (channels) => channels.length === 0), [], 'unsubscribed after the last local client left')
})

t.test('a burst from one socket is ordered in one run of seqs and delivered once everywhere; resends to another instance are recognised', async (t) => {
  const { servers } = await startCluster(t, { COUNTS_TTL_MS: String(COUNTS_TTL_MS) })
  const [a, b] = [servers[0]!, servers[1]!]
  const listener = await Client.open(wsUrl(b), { headers: member('listener') })
  const sender = await Client.open(wsUrl(a), { headers: member('p') })
  const burst = 50
  // Some with line breaks and unit separators (the ordering script's separators, which JSON escapes), some without a clientId.
  const contentOf = (n: number): string => n % 3 === 0 ? `burst ${n}\n\u001f next line` : `burst ${n}`
  const withClientId = (n: number): boolean => n % 5 !== 4
  // Sent without waiting: the instance takes them in one or a few turns, so Redis orders them in batches.
  for (let n = 0; n < burst; n++) sender.send(withClientId(n) ? { content: contentOf(n), clientId: `c${n}` } : { content: contentOf(n) })
  const delivered = await listener.receive(burst, 10_000)
  t.same(delivered.map((frame) => frame.content), Array.from({ length: burst }, (_, n) => contentOf(n)), 'in the order sent')
  t.same(delivered.map((frame) => frame.seq - delivered[0].seq), Array.from({ length: burst }, (_, n) => n), 'consecutive seqs')
  const clientIds = Array.from({ length: burst }, (_, n) => n).filter(withClientId).length
  const acks = (await sender.receive(burst + clientIds, 10_000)).filter((frame) => frame.ack !== undefined)
  t.equal(acks.length, clientIds, 'every frame with a clientId acked once')

  const resender = await Client.open(wsUrl(b), { headers: member('p') })
  for (const clientId of ['c3', 'new', 'c7']) resender.send({ content: `again ${clientId}`, clientId })
  const answers = await resender.receive(4, 10_000)
  const ackOf = (frames: any[], clientId: string) => frames.find((frame) => frame.ack?.clientId === clientId)?.ack.id
  t.equal(ackOf(answers, 'c3'), ackOf(acks, 'c3'), 'a resend is acked with the first message\'s id')
  t.equal(ackOf(answers, 'c7'), ackOf(acks, 'c7'))
  await sleep(300)
  t.same(listener.frames.slice(burst).map((frame) => frame.content), ['again new'], 'only the new message is delivered again')
})
