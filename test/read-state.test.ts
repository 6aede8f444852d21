// Read markers, "seen by" and unread counts over real HTTP and WebSockets against jongodb.
import t from 'tap'
import { ObjectId } from 'mongodb'
import { bearer, buildService, Client, eventually, get, post, sleep, startMongo } from './helper.js'

// ann may write to ben's own channel: a direct message.
const ann = { id: 'ann', groups: ['team', 'ben'] }
const ben = { id: 'ben', groups: ['team', 'crew'] }
const outsider = { id: 'olga', groups: ['elsewhere'] }

async function put (url: string, body: unknown, headers: Record<string, string>): Promise<{ status: number, body: any }> {
  const response = await fetch(url, { method: 'PUT', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  const text = await response.text()
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) }
}

async function send (base: string, channel: string, content: string, user: object): Promise<{ id: string, seq: number }> {
  const sent = await post(`${base}/api/messages/${channel}`, { content }, bearer(user))
  if (sent.status !== 201) throw new Error(`send answered ${sent.status}`)
  return sent.body
}

t.test('a marker moves forward only; unknown ids, ids of other channels and channels without access are refused', async (t) => {
  const service = await buildService(t)
  const first = await send(service.base, 'team', 'one', ann)
  const second = await send(service.base, 'team', 'two', ann)
  const elsewhere = await send(service.base, 'crew', 'other channel', ben)
  const read = `${service.base}/api/channels/team/read`

  t.equal((await put(read, { id: second.id }, bearer(ben))).status, 204)
  t.same((await get(read, bearer(ben))).body.ben, second.id)
  t.equal((await put(read, { id: first.id }, bearer(ben))).status, 204, 'an older message is accepted')
  t.same((await get(read, bearer(ben))).body.ben, second.id, 'and changes nothing')

  t.match(await put(read, { id: new ObjectId().toHexString() }, bearer(ben)), { status: 404, body: { code: 'CHAT_MESSAGE_NOT_FOUND' } })
  t.match(await put(read, { id: elsewhere.id }, bearer(ben)), { status: 404, body: { code: 'CHAT_MESSAGE_NOT_FOUND' } }, 'a message of another channel')
  t.match(await put(read, { id: 'nope' }, bearer(ben)), { status: 400 })
  t.match(await put(read, { id: second.id }, bearer(outsider)), { status: 403, body: { code: 'CHAT_FORBIDDEN' } })
  t.match(await get(read, bearer(outsider)), { status: 403, body: { code: 'CHAT_FORBIDDEN' } })
  t.match(await get(read), { status: 401 })
})

t.test('sending moves the sender\'s own marker; "seen by" lists every user\'s', async (t) => {
  const service = await buildService(t)
  const read = `${service.base}/api/channels/team/read`
  const first = await send(service.base, 'team', 'one', ann)
  await eventually(() => get(read, bearer(ben)), (answer) => answer.body.ann === first.id)
  await put(read, { id: first.id }, bearer(ben))
  const second = await send(service.base, 'team', 'two', ann)
  const both = await eventually(() => get(read, bearer(ben)), (answer) => answer.body.ann === second.id)
  t.same(both.body, { ann: second.id, ben: first.id })
})

t.test('unread counts: others\' messages after the marker, per channel of the token, before and after marking', async (t) => {
  const service = await buildService(t)
  const unread = (user: object) => get(`${service.base}/api/unread`, bearer(user))
  t.same((await unread(ben)).body, { ben: 0, team: 0, crew: 0 })
  await send(service.base, 'crew', 'my own', ben)
  const sent = []
  for (let i = 0; i < 3; i++) sent.push(await send(service.base, 'team', `m${i}`, ann))
  await send(service.base, 'ben', 'direct', ann)
  const before = await eventually(() => unread(ben), (answer) => answer.body.team === 3 && answer.body.ben === 1)
  t.same(before.body, { ben: 1, team: 3, crew: 0 }, 'a channel without a marker counts from its beginning; own messages do not count')
  t.equal((await put(`${service.base}/api/channels/team/read`, { id: sent[1]!.id }, bearer(ben))).status, 204)
  t.same((await unread(ben)).body, { ben: 1, team: 1, crew: 0 })
  t.match(await get(`${service.base}/api/unread`), { status: 401 })
})

t.test('a channel with 1,200 unread answers 1000; markers survive a restart', async (t) => {
  const mongo = await startMongo(t)
  const service = await buildService(t, {}, mongo)
  const start = 1_000_000
  await service.collection.insertMany(Array.from({ length: 1_200 }, (_, i) => ({
    _id: new ObjectId(), channel: 'team', sender: 'ann', content: `m${i}`, createdAt: new Date(), seq: start + i
  })))
  t.equal((await get(`${service.base}/api/unread`, bearer(ben))).body.team, 1000)
  const at = await service.collection.findOne({ seq: start + 299 })
  t.equal((await put(`${service.base}/api/channels/team/read`, { id: at!._id.toHexString() }, bearer(ben))).status, 204)
  t.equal((await get(`${service.base}/api/unread`, bearer(ben))).body.team, 900, 'exact below the cap')
  await service.host.close()

  const again = await buildService(t, {}, mongo)
  t.same((await get(`${again.base}/api/channels/team/read`, bearer(ann))).body, { ben: at!._id.toHexString() }, 'after a restart')
  t.equal((await get(`${again.base}/api/unread`, bearer(ben))).body.team, 900)
})

t.test('receipts reach every socket of the channel, the reader\'s other devices included, at most one per user and channel per second, the latest', async (t) => {
  const service = await buildService(t)
  const sent = []
  for (let i = 0; i < 4; i++) sent.push(await send(service.base, 'team', `m${i}`, ann))
  const url = `${service.ws}?channel=team`
  const [annSocket, benPhone, benLaptop] = await Promise.all([
    Client.open(url, { headers: bearer(ann) }), Client.open(url, { headers: bearer(ben) }), Client.open(url, { headers: bearer(ben) })
  ])
  const receipt = (id: string) => ({ read: { channel: 'team', user: 'ben', id } })

  t.equal((await put(`${service.base}/api/channels/team/read`, { id: sent[0]!.id }, bearer(ben))).status, 204)
  for (const socket of [annSocket, benPhone, benLaptop]) t.same(await socket.receive(1), [receipt(sent[0]!.id)])

  const markedAt = Date.now()
  benPhone.send({ read: { channel: 'team', id: sent[1]!.id } })
  benPhone.send({ read: { channel: 'team', id: sent[3]!.id } })
  benPhone.send({ read: { channel: 'team', id: sent[2]!.id } })
  const frames = await annSocket.receive(2)
  t.same(frames[1], receipt(sent[3]!.id), 'the latest marker, once')
  t.ok(Date.now() - markedAt >= 500, 'held back until a second after the first')
  await sleep(1_200)
  t.equal(annSocket.frames.length, 2, 'nothing more')
  t.same((await benLaptop.receive(2))[1], receipt(sent[3]!.id), 'the reader\'s other device')
  t.same((await get(`${service.base}/api/channels/team/read`, bearer(ann))).body.ben, sent[3]!.id)
  await Promise.all([annSocket.close(), benPhone.close(), benLaptop.close()])
})

t.test('a read frame that is not right answers an error frame; the socket stays open', async (t) => {
  const service = await buildService(t)
  const first = await send(service.base, 'team', 'one', ann)
  const socket = await Client.open(`${service.ws}?channel=team`, { headers: bearer(ben) })
  socket.send({ read: { channel: 'team', id: new ObjectId().toHexString() } })
  t.match((await socket.receive(1))[0], { error: { statusCode: 404, code: 'CHAT_MESSAGE_NOT_FOUND' } })
  socket.send({ read: { channel: 'team' } })
  t.match((await socket.receive(2))[1], { error: { statusCode: 400, code: 'CHAT_INVALID_FRAME', channel: 'team' } })
  socket.send({ read: { channel: 'elsewhere', id: first.id } })
  t.match((await socket.receive(3))[2], { error: { statusCode: 403, code: 'CHAT_FORBIDDEN' } })
  socket.send({ read: { channel: 'team', id: first.id } })
  t.same((await socket.receive(4))[3], { read: { channel: 'team', user: 'ben', id: first.id } })
  await socket.close()
})
