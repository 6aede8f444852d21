// REDIS_CLUSTER_NODES: three instances (server.ts processes) on a real three-master Redis Cluster,
// with sharded pub/sub, sharing one MongoDB.
import t, { type Test } from 'tap'
import { MongoClient } from 'mongodb'
import { bearer, Client, eventually, get, post, sleep, spawnServerProcess, startInstances, startMongo, wsUrlOf as wsUrl, type ServerProcess } from './helper.js'
import { clusterOk, startRedisCluster, type RedisCluster, type RedisClusterNode } from './redis-cluster.js'

const COUNTS_TTL_MS = 1_500

/** One chat channel per shard: their pub/sub channels hash to slots on three different nodes. */
async function channelOnEveryShard (cluster: RedisCluster): Promise<Array<{ channel: string, shard: RedisClusterNode }>> {
  const found = new Map<RedisClusterNode, string>()
  for (let i = 0; found.size < cluster.nodes.length; i++) {
    const shard = await cluster.ownerOf(`chat:{room-${i}}:messages`)
    if (!found.has(shard)) found.set(shard, `room-${i}`)
  }
  return [...found].map(([shard, channel]) => ({ channel, shard }))
}

/** Instances subscribed to the channel on this node (SPUBLISH/SSUBSCRIBE only: plain PUBLISH's subscribers are not counted). */
const subscribers = (node: RedisClusterNode, channel: string) =>
  node.inspect.pubsub('SHARDNUMSUB', `chat:{${channel}}:messages`).then((reply) => Number((reply as [string, number])[1]))

/** An instance connects to the cluster after it starts listening; until then it delivers locally only. */
const redisUp = (server: ServerProcess, timeoutMs?: number) =>
  eventually(() => get(`${server.base}/ready`), (response) => response.body.redis === 'up', timeoutMs)

async function startAll (t: Test) {
  const directory = t.testdir()
  const cluster = await startRedisCluster(t, directory)
  const mongo = await startMongo(t)
  const servers = await startInstances(t, directory, mongo, { REDIS_CLUSTER_NODES: cluster.seeds, COUNTS_TTL_MS: String(COUNTS_TTL_MS) })
  await Promise.all(servers.map((server) => redisUp(server)))
  const rooms = await channelOnEveryShard(cluster)
  const member = (id: string) => bearer({ id, groups: rooms.map(({ channel }) => channel) })
  const stored = new MongoClient(mongo.uri)
  t.teardown(() => stored.close())
  const messages = stored.db(mongo.db).collection('messages')
  return { cluster, servers, rooms, member, messages }
}

/** Starts server.ts with these settings and resolves with what it logged before it exited. */
async function startFailure (t: Test, env: NodeJS.ProcessEnv): Promise<string> {
  const server = spawnServerProcess(t, { MONGO_URI: 'mongodb://127.0.0.1:1', ...env })
  t.not(await server.exited, 0, 'the service does not start')
  return server.logs.map((entry) => `${entry.msg} ${entry.err?.message ?? ''}`).join('\n')
}

t.test('REDIS_URL and REDIS_CLUSTER_NODES together, or seeds that are not host:port: the service does not start and says why', async (t) => {
  t.match(await startFailure(t, { REDIS_URL: 'redis://127.0.0.1:2', REDIS_CLUSTER_NODES: '127.0.0.1:3,127.0.0.1:4' }),
    /REDIS_URL \(option redisUrl\) and REDIS_CLUSTER_NODES \(option redisClusterNodes\) exclude each other/)
  t.match(await startFailure(t, { REDIS_CLUSTER_NODES: '127.0.0.1:3,redis-b' }), /REDIS_CLUSTER_NODES \(option redisClusterNodes\) must match pattern/)
})

t.test('every client gets each message once, in seq order, through the one shard that owns its channel', async (t) => {
  const { cluster, servers, rooms, member, messages } = await startAll(t)
  const listeners = await Promise.all(servers.flatMap((server, i) => rooms.map(({ channel }) =>
    Client.open(wsUrl(server, channel), { headers: member(`reader-${i}`) }).then((client) => ({ channel, client })))))
  // A client gets the messages published once its instance's subscription is in place.
  for (const { channel, shard } of rooms) await eventually(() => subscribers(shard, channel), (count) => count === servers.length)

  // Plain PUBLISH carries only the small signals (presence, typing, receipts) on chat:signals;
  // messages must never use it: a cluster sends a plain PUBLISH to every node.
  const plainPublishes = async () => Promise.all(cluster.nodes.map(async (node) => {
    return Number(/cmdstat_publish:calls=(\d+)/.exec(await node.inspect.info('commandstats') as string)?.[1] ?? 0)
  }))
  const plainPublishesBefore = await plainPublishes()
  const perPublisher = 5
  const sent = await Promise.all(servers.flatMap((server, i) => rooms.map(async ({ channel }) => {
    const ids: string[] = []
    for (let n = 0; n < perPublisher; n++) {
      const answer = await post(`${server.base}/api/messages/${channel}`, { content: `${i}:${n}` }, member(`writer-${i}`))
      t.equal(answer.status, 201)
      ids.push(answer.body.id)
    }
    return { channel, ids }
  })))
  const perChannel = servers.length * perPublisher

  for (const { channel, client } of listeners) {
    const frames = await client.receive(perChannel, 10_000)
    t.equal(new Set(frames.map((frame) => frame.id)).size, perChannel, `${channel}: each message once`)
    t.ok(frames.every((frame, n) => frame.channel === channel && (n === 0 || frame.seq > frames[n - 1].seq)), `${channel}: in seq order`)
    for (const { ids } of sent.filter((batch) => batch.channel === channel)) {
      t.same(frames.map((frame) => frame.id).filter((id) => ids.includes(id)), ids, `${channel}: in the order its publisher sent`)
    }
  }
  await sleep(300)
  t.ok(listeners.every(({ client }) => client.frames.length === perChannel), 'nothing arrives twice')
  await eventually(() => messages.countDocuments(), (count) => count === rooms.length * perChannel)

  for (const { channel, shard } of rooms) {
    for (const node of cluster.nodes) {
      t.equal(await subscribers(node, channel), node === shard ? servers.length : 0, `${channel}: every instance subscribed on the owning shard only`)
    }
  }
  // The presence heartbeat may publish meanwhile; a message would add one per message.
  const plainDuring = (await plainPublishes()).reduce((sum, calls, node) => sum + calls - plainPublishesBefore[node]!, 0)
  t.ok(plainDuring < rooms.length * perChannel / 4, `no plain PUBLISH for a message, which a cluster would send to every node (${plainDuring} signals meanwhile)`)
  for (const node of cluster.nodes) {
    const plain = (await node.inspect.pubsub('CHANNELS', '*') as string[]).filter((channel) => channel !== 'chat:signals')
    t.same(plain, [], 'no plain pub/sub subscription on any node but the signals channel')
    t.match(await node.inspect.info('commandstats'), /cmdstat_spublish:calls=\d+/, 'SPUBLISH on each shard')
  }

  await Promise.all(listeners.map(({ client }) => client.close()))
  for (const { channel, shard } of rooms) await eventually(() => subscribers(shard, channel), (count) => count === 0)
  t.pass('the last local client gone, each instance unsubscribes from the shard channel')
})

t.test('counts are cluster-wide; a killed instance leaves them within the TTL while the others go on delivering', async (t) => {
  const { servers, rooms, member } = await startAll(t)
  const names = rooms.map(({ channel }) => channel)
  const counts = (server: ServerProcess) => get(`${server.base}/api/messages/counts?channels=${names.join(',')}`)
  // Instance i has i + 1 clients on each channel: 6 per channel in all.
  const clients = await Promise.all(servers.flatMap((server, i) => names.flatMap((channel) =>
    Array.from({ length: i + 1 }, (_, n) => Client.open(wsUrl(server, channel), { headers: member(`c${i}-${n}`) })))))
  const everywhere = (count: number) => Object.fromEntries(names.map((channel) => [channel, count]))
  for (const server of servers) {
    const counted = await eventually(() => counts(server), (response) => names.every((channel) => response.body[channel] === 6))
    t.same(counted.body, everywhere(6))
  }

  servers[2]!.signal('SIGKILL')
  await servers[2]!.exited
  for (const server of servers.slice(0, 2)) {
    const counted = await eventually(
      () => counts(server),
      (response) => names.every((channel) => response.body[channel] === 3),
      COUNTS_TTL_MS + 3_000
    )
    t.same(counted.body, everywhere(3), 'the killed instance\'s clients left the counts')
  }
  // Delivery between the instances left, on every shard.
  const survivors = clients.slice(0, 3 * names.length) // instance 0: one per channel, instance 1: two
  for (const { channel } of rooms) {
    const sent = await post(`${servers[1]!.base}/api/messages/${channel}`, { content: 'after the kill' }, member('w'))
    t.equal(sent.status, 201)
    const onChannel = survivors.filter((client) => new URL(client.socket.url).searchParams.get('channel') === channel)
    t.equal(onChannel.length, 3)
    for (const client of onChannel) {
      await eventually(() => client.frames, (frames) => frames.some((frame) => frame.id === sent.body.id))
    }
  }
  t.ok(servers.slice(0, 2).every((server) => server.logs.every((entry) => !/ordering a message through Redis failed/.test(entry.msg))), 'no message was ordered locally')

  servers[1]!.signal('SIGTERM')
  t.equal(await servers[1]!.exited, 0, 'a clean shutdown on a cluster exits 0')
  t.same((await eventually(() => counts(servers[0]!), (response) => names.every((channel) => response.body[channel] === 1), 1_000)).body,
    everywhere(1), 'and takes its clients out of the counts at once')
})

t.test('one shard restarted: other shards keep delivering, its channels resume, nothing accepted is lost', async (t) => {
  const { servers, rooms, member, messages } = await startAll(t)
  const [{ channel, shard }, { channel: control, shard: controlShard }] = rooms
  const [a, b] = [servers[0]!, servers[1]!]
  const onB = await Client.open(wsUrl(b, channel), { headers: member('b') })
  const controlOnB = await Client.open(wsUrl(b, control), { headers: member('b') })
  await eventually(
    () => Promise.all([subscribers(shard, channel), subscribers(controlShard, control)]),
    (counts) => counts.every((count) => count === 1)
  )
  const accepted: string[] = []
  const send = async (server: ServerProcess, to: string, content: string) => {
    const answer = await post(`${server.base}/api/messages/${to}`, { content }, member('writer'))
    t.equal(answer.status, 201, `${content}: accepted`)
    if (to === channel) accepted.push(answer.body.id)
    return answer.body
  }
  const first = await send(a, channel, 'before')
  t.equal((await onB.receive(1))[0].id, first.id)

  await shard.stop()
  await eventually(() => get(`${a.base}/ready`), (response) => response.body.redis === 'down')
  t.equal((await get(`${a.base}/ready`)).status, 200, 'one shard down: Redis reported down, the instance still ready')
  t.match(await (await fetch(`${a.base}/metrics`)).text(), /^chat_redis_up 0$/m)
  const during = await send(a, channel, 'while its shard is down')
  const other = await send(a, control, 'on another shard meanwhile')
  await eventually(() => controlOnB.frames, (frames) => frames.some((frame) => frame.id === other.id))
  t.pass('a channel on another shard still reaches other instances')

  await shard.start()
  await clusterOk(shard.inspect)
  await Promise.all(servers.map((server) => redisUp(server)))
  // Each instance's subscriber reconnects to the shard and subscribes again by itself.
  let resumed: { id: string } | undefined
  for (let attempt = 0; resumed === undefined && attempt < 20; attempt++) {
    const sent = await send(a, channel, `after the restart ${attempt}`)
    await eventually(() => onB.frames, (frames) => frames.some((frame) => frame.id === sent.id), 1_000)
      .then(() => { resumed = sent }, () => {})
  }
  t.ok(resumed, 'delivery across instances on the restarted shard\'s channel resumed')
  const seqs = onB.frames.map((frame) => frame.seq)
  t.ok(seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]), 'still in seq order')

  await eventually(() => messages.countDocuments({ channel }), (count) => count === accepted.length)
  t.same((await messages.find({ channel }).toArray()).map((message) => message._id.toHexString()).sort(), [...accepted].sort(), 'every accepted message is stored')
  const back = await Client.open(`${wsUrl(b, channel)}&since=${first.id}`, { headers: member('back') })
  const caughtUp = await back.receive(accepted.length - 1, 10_000)
  t.same(caughtUp.map((frame) => frame.id), accepted.slice(1), 'since= on another instance gets what it missed live, in order')
  t.ok(accepted.includes(during.id))
})
