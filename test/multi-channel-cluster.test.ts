// One socket per instance, each subscribed to several channels by frames, across three instances
// sharing one MongoDB and one Redis: each message once, in each channel's order, and `since` per
// channel without a gap, whichever instance the messages were sent on.
import t from 'tap'
import { bearer, Client, eventually, post, sleep, startCluster } from './helper.js'

const member = (id: string) => bearer({ id, groups: ['a', 'b', 'c'] })
const socketUrl = (base: string) => `${base.replace('http', 'ws')}/ws`

async function subscribed (client: Client, channels: string[], since: Record<string, string> = {}): Promise<void> {
  for (const channel of channels) {
    client.send({ subscribe: since[channel] === undefined ? { channel } : { channel, since: since[channel] } })
  }
  await eventually(() => client.frames.filter((frame) => frame.subscribed !== undefined).length, (count) => count === channels.length)
}

const idsOf = (client: Client, channel: string) => client.frames.filter((frame) => frame.channel === channel && typeof frame.id === 'string').map((frame) => frame.id)

t.test('subscribe and unsubscribe on one socket across three instances: each message once, in each channel\'s order', async (t) => {
  const { servers } = await startCluster(t)
  const clients = await Promise.all(servers.map(async (server, i) => Client.open(socketUrl(server.base), { headers: member(`reader${i}`) })))
  await Promise.all(clients.map(async (client) => subscribed(client, ['a', 'b'])))

  const sent: Record<string, string[]> = { a: [], b: [], c: [] }
  for (let n = 0; n < 12; n++) {
    const channel = ['a', 'b', 'c'][n % 3]!
    const server = servers[n % servers.length]!
    sent[channel]!.push((await post(`${server.base}/api/messages/${channel}`, { content: `${channel}${n}` }, member(`writer${n % 2}`))).body.id)
  }
  for (const client of clients) {
    await eventually(() => idsOf(client, 'a').length + idsOf(client, 'b').length, (count) => count >= 8)
  }
  await sleep(300)
  for (const client of clients) {
    t.same(idsOf(client, 'a'), sent.a, 'channel a: each once, in order')
    t.same(idsOf(client, 'b'), sent.b, 'channel b: each once, in order')
    t.same(idsOf(client, 'c'), [], 'channel c: never subscribed')
  }

  clients[0]!.send({ unsubscribe: { channel: 'a' } })
  await eventually(() => clients[0]!.frames.some((frame) => frame.unsubscribed !== undefined), Boolean)
  const later = (await post(`${servers[2]!.base}/api/messages/a`, { content: 'later' }, member('writer0'))).body.id
  await eventually(() => idsOf(clients[1]!, 'a'), (ids) => ids.includes(later))
  await sleep(300)
  t.notOk(idsOf(clients[0]!, 'a').includes(later), 'unsubscribed on its instance: nothing more of a')
  await Promise.all(clients.map(async (client) => client.close()))
})

t.test('since per channel is gapless across instances', async (t) => {
  const { servers } = await startCluster(t)
  const sent: Record<string, string[]> = { a: [], b: [] }
  for (let n = 0; n < 10; n++) {
    const channel = n % 2 === 0 ? 'a' : 'b'
    sent[channel]!.push((await post(`${servers[n % 3]!.base}/api/messages/${channel}`, { content: `m${n}` }, member('writer'))).body.id)
  }
  const client = await Client.open(socketUrl(servers[1]!.base), { headers: member('reader') })
  await subscribed(client, ['a', 'b'], { a: sent.a[1]!, b: sent.b[3]! })
  const liveA = (await post(`${servers[2]!.base}/api/messages/a`, { content: 'live a' }, member('writer'))).body.id
  const liveB = (await post(`${servers[0]!.base}/api/messages/b`, { content: 'live b' }, member('writer'))).body.id
  await eventually(() => idsOf(client, 'a').length + idsOf(client, 'b').length, (count) => count >= 5)
  await sleep(300)
  t.same(idsOf(client, 'a'), [...sent.a.slice(2), liveA], 'a: missed after since, then live')
  t.same(idsOf(client, 'b'), [...sent.b.slice(4), liveB], 'b: missed after since, then live')
  await client.close()
})
