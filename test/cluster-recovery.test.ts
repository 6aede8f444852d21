// Recovery on any instance: since= and after= across three server processes sharing MongoDB and Redis.
import t from 'tap'
import { bearer, Client, get, mongoProxy, post, sleep, startCluster, wsUrlOf as wsUrl } from './helper.js'

const member = (id: string) => bearer({ id, groups: ['team', 'other'] })

t.test('since= on any instance: every message sent after it, whichever instance took it, once, in the one order all instances agree on', async (t) => {
  const { servers } = await startCluster(t)
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
  const { servers } = await startCluster(t, {}, async (uri, instance) => {
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
