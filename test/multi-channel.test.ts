// One socket, many channels: subscribe and unsubscribe frames, refusals that name the channel,
// sends to any channel the token may write to, pings, counts per subscription.
import t from 'tap'
import { bearer, buildService, Client, eventually, get, post, sleep, upgradeStatus } from './helper.js'

const ann = { id: 'ann', groups: ['g1', 'g2', 'g3'] }
const ben = { id: 'ben', groups: ['g1', 'g2', 'g3'] }

/** Waits for the next frame matching the check (frames before it stay in the queue). */
async function frameMatching (client: Client, check: (frame: any) => boolean, timeoutMs = 5_000): Promise<any> {
  const deadline = Date.now() + timeoutMs
  for (let seen = 0; ; seen++) {
    const frames = await client.receive(seen + 1, Math.max(deadline - Date.now(), 1))
    if (check(frames[seen])) return frames[seen]
  }
}

const messagesOf = (client: Client, channel: string) => client.frames.filter((frame) => frame.channel === channel && typeof frame.id === 'string')

t.test('a socket opened without a channel subscribes to several, gets each channel\'s messages, and unsubscribes', async (t) => {
  const service = await buildService(t)
  const client = await Client.open(service.ws, { headers: bearer(ann) })
  client.send({ subscribe: { channel: 'g1' } })
  client.send({ subscribe: { channel: 'g2' } })
  t.same(await client.receive(2), [{ subscribed: { channel: 'g1' } }, { subscribed: { channel: 'g2' } }])

  const one = await post(`${service.base}/api/messages/g1`, { content: 'one' }, bearer(ben))
  const two = await post(`${service.base}/api/messages/g2`, { content: 'two' }, bearer(ben))
  await post(`${service.base}/api/messages/g3`, { content: 'not subscribed' }, bearer(ben))
  const [, , first, second] = await client.receive(4)
  t.match(first, { id: one.body.id, channel: 'g1', content: 'one' })
  t.match(second, { id: two.body.id, channel: 'g2', content: 'two' })

  client.send({ unsubscribe: { channel: 'g1' } })
  t.same(await frameMatching(client, (frame) => frame.unsubscribed !== undefined), { unsubscribed: { channel: 'g1' } })
  await post(`${service.base}/api/messages/g1`, { content: 'after unsubscribe' }, bearer(ben))
  await post(`${service.base}/api/messages/g2`, { content: 'still here' }, bearer(ben))
  await frameMatching(client, (frame) => frame.content === 'still here')
  await sleep(200)
  t.same(messagesOf(client, 'g1').map((frame) => frame.content), ['one'], 'nothing of g1 after unsubscribed')
  t.same(messagesOf(client, 'g3'), [], 'nothing of a channel never subscribed')
  await client.close()
})

t.test('subscribing again answers subscribed again and delivers nothing twice', async (t) => {
  const service = await buildService(t)
  const client = await Client.open(service.ws, { headers: bearer(ann) })
  client.send({ subscribe: { channel: 'g1' } })
  client.send({ subscribe: { channel: 'g1' } })
  t.same(await client.receive(2), [{ subscribed: { channel: 'g1' } }, { subscribed: { channel: 'g1' } }])
  await post(`${service.base}/api/messages/g1`, { content: 'once' }, bearer(ben))
  await client.receive(3)
  await sleep(200)
  t.equal(messagesOf(client, 'g1').length, 1)
  await client.close()
})

t.test('subscribe with since: the missed messages of that channel in order, then the live ones, none twice', async (t) => {
  const service = await buildService(t)
  const sent: string[] = []
  for (let n = 0; n < 5; n++) sent.push((await post(`${service.base}/api/messages/g1`, { content: `m${n}` }, bearer(ben))).body.id)
  const client = await Client.open(service.ws, { headers: bearer(ann) })
  client.send({ subscribe: { channel: 'g2' } })
  client.send({ subscribe: { channel: 'g1', since: sent[1] } })
  await frameMatching(client, (frame) => frame.subscribed?.channel === 'g1')
  const live = (await post(`${service.base}/api/messages/g1`, { content: 'live' }, bearer(ben))).body.id
  await eventually(() => messagesOf(client, 'g1').length, (count) => count >= 4)
  await sleep(200)
  t.same(messagesOf(client, 'g1').map((frame) => frame.id), [...sent.slice(2), live])
  await client.close()
})

t.test('refusals are error frames naming the channel, and the socket keeps working on its other channels', async (t) => {
  const service = await buildService(t, { maxChannelsPerConnection: 2 })
  const client = await Client.open(service.ws, { headers: bearer(ann) })
  client.send({ subscribe: { channel: 'g1' } })
  await frameMatching(client, (frame) => frame.subscribed !== undefined)

  client.send({ subscribe: { channel: 'ben' } })
  t.match(await frameMatching(client, (frame) => frame.error !== undefined), { error: { statusCode: 403, code: 'CHAT_FORBIDDEN', channel: 'ben' } })
  client.send({ subscribe: { channel: '$where' } })
  t.match(await frameMatching(client, (frame) => frame.error?.channel === '$where'), { error: { statusCode: 400, code: 'CHAT_INVALID_CHANNEL' } })
  client.send({ subscribe: { channel: 'g2', since: 'not-an-id' } })
  t.match(await frameMatching(client, (frame) => frame.error?.code === 'CHAT_INVALID_FRAME'), { error: { statusCode: 400, channel: 'g2' } })
  client.send({ subscribe: { channel: 'g2', since: '0123456789abcdef01234567' } })
  t.match(await frameMatching(client, (frame) => frame.error?.code === 'CHAT_UNKNOWN_SINCE'), { error: { statusCode: 400, channel: 'g2' } })
  client.send({ subscribe: { channel: 'g3' } })
  t.match(await frameMatching(client, (frame) => frame.error?.code === 'CHAT_TOO_MANY_CHANNELS'), { error: { statusCode: 429, channel: 'g3' } })
  client.send({ subscribe: 'g1' })
  t.match(await frameMatching(client, (frame) => frame.error?.code === 'CHAT_INVALID_FRAME' && frame.error.channel === undefined), { error: { statusCode: 400 } })

  await post(`${service.base}/api/messages/g1`, { content: 'still served' }, bearer(ben))
  t.match(await frameMatching(client, (frame) => frame.content === 'still served'), { channel: 'g1' })
  t.equal(client.socket.readyState, client.socket.OPEN)
  await client.close()
})

t.test('a socket sends to any channel its token may write to, acked, without subscribing; others are refused', async (t) => {
  const service = await buildService(t)
  const watcher = await Client.open(`${service.ws}?channel=g3`, { headers: bearer(ben) })
  const client = await Client.open(service.ws, { headers: bearer(ann) })
  client.send({ channel: 'g3', content: 'hello g3', clientId: 'c1' })
  const ack = await frameMatching(client, (frame) => frame.ack !== undefined)
  t.match(await frameMatching(watcher, (frame) => frame.content === 'hello g3'), { id: ack.ack.id, channel: 'g3', sender: 'ann' })

  client.send({ channel: 'ben', content: 'no', clientId: 'c2' })
  t.match(await frameMatching(client, (frame) => frame.error !== undefined), { error: { statusCode: 403, code: 'CHAT_FORBIDDEN', channel: 'ben', clientId: 'c2' } })
  client.send({ content: 'which channel?', clientId: 'c3' })
  t.match(await frameMatching(client, (frame) => frame.error?.clientId === 'c3'), { error: { statusCode: 400, code: 'CHAT_INVALID_FRAME' } })
  client.send({ channel: '../x', content: 'bad', clientId: 'c4' })
  t.match(await frameMatching(client, (frame) => frame.error?.clientId === 'c4'), { error: { statusCode: 400, code: 'CHAT_INVALID_CHANNEL', channel: '../x' } })
  t.same(messagesOf(client, 'g3'), [], 'sending does not subscribe')

  client.send({ ping: {} })
  t.same(await frameMatching(client, (frame) => frame.pong !== undefined), { pong: {} })
  await Promise.all([client.close(), watcher.close()])
})

t.test('a message sent right after its channel\'s subscribe frame comes back to the sender as well', async (t) => {
  const service = await buildService(t)
  const client = await Client.open(service.ws, { headers: bearer(ann) })
  client.send({ subscribe: { channel: 'g1' } })
  client.send({ channel: 'g1', content: 'right away', clientId: 'c1' })
  t.match(await frameMatching(client, (frame) => frame.content === 'right away'), { channel: 'g1', sender: 'ann', clientId: 'c1' })
  t.match(client.frames[0], { subscribed: { channel: 'g1' } }, 'subscribed comes first')
  await client.close()
})

t.test('a socket opened with ?channel= takes subscribe frames too, and a message without channel still goes to its channel', async (t) => {
  const service = await buildService(t)
  const client = await Client.open(`${service.ws}?channel=g1`, { headers: bearer(ann) })
  client.send({ subscribe: { channel: 'g2' } })
  await frameMatching(client, (frame) => frame.subscribed !== undefined)
  client.send({ content: 'to g1' })
  client.send({ channel: 'g2', content: 'to g2' })
  await eventually(() => client.frames.filter((frame) => typeof frame.id === 'string').length, (count) => count === 2)
  t.same(client.frames.filter((frame) => typeof frame.id === 'string').map((frame) => [frame.channel, frame.content]), [['g1', 'to g1'], ['g2', 'to g2']])
  await client.close()
})

t.test('a socket counts once per channel it is subscribed to; the connection gauge counts sockets', async (t) => {
  const service = await buildService(t)
  const counts = async () => (await get(`${service.base}/api/messages/counts?channels=g1,g2,g3`)).body
  const client = await Client.open(service.ws, { headers: bearer(ann) })
  client.send({ subscribe: { channel: 'g1' } })
  client.send({ subscribe: { channel: 'g2' } })
  await client.receive(2)
  t.same(await counts(), { g1: 1, g2: 1, g3: 0 })
  const metrics = await (await fetch(`${service.base}/metrics`)).text()
  t.match(metrics, /^chat_websocket_connections 1$/m)
  t.match(metrics, /^chat_websocket_subscriptions 2$/m)
  client.send({ unsubscribe: { channel: 'g1' } })
  await client.receive(3)
  t.same(await counts(), { g1: 0, g2: 1, g3: 0 })
  await client.close()
  await eventually(counts, (value) => value.g2 === 0)
  t.equal(await upgradeStatus(`${service.ws}?since=0123456789abcdef01234567`, bearer(ann)), 400, 'since without a channel is refused at the upgrade')
})
