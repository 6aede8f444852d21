import t from 'tap'
import { bearer, buildService, Client, eventually, post, sleep, startMongo } from '../helper.js'

const alice = { id: 'alice', groups: ['team'] }
const bob = { id: 'bob', groups: ['team'] }

t.test('REST: a resend with the same clientId (body or Idempotency-Key) answers the original message, stored and broadcast once', async (t) => {
  const service = await buildService(t)
  const url = `${service.base}/api/messages/team`
  const listener = await Client.open(`${service.ws}?channel=team`, { headers: bearer(bob) })

  const first = await post(url, { content: 'hello', clientId: 'phone-1' }, bearer(alice))
  t.equal(first.status, 201)
  t.match(first.body, { content: 'hello', sender: 'alice', clientId: 'phone-1' })
  const again = await post(url, { content: 'hello', clientId: 'phone-1' }, bearer(alice))
  t.equal(again.status, 200, 'a resend is 200')
  t.same(again.body, first.body, 'with the original body')
  t.equal(again.headers.get('idempotent-replayed'), 'true')

  const viaHeader = await post(url, { content: 'keyed' }, { ...bearer(alice), 'idempotency-key': 'phone-2' })
  t.equal(viaHeader.status, 201)
  t.equal(viaHeader.body.clientId, 'phone-2', 'the header is the same thing as the body field')
  const headerAgain = await post(url, { content: 'keyed' }, { ...bearer(alice), 'idempotency-key': 'phone-2' })
  t.same([headerAgain.status, headerAgain.body.id], [200, viaHeader.body.id])
  const bodyForHeader = await post(url, { content: 'keyed', clientId: 'phone-2' }, bearer(alice))
  t.same([bodyForHeader.status, bodyForHeader.body.id], [200, viaHeader.body.id], 'a resend may switch from header to body')

  const bobsOwn = await post(url, { content: 'hello', clientId: 'phone-1' }, bearer(bob))
  t.equal(bobsOwn.status, 201, 'another sender\'s same clientId is a new message')
  t.not(bobsOwn.body.id, first.body.id)

  const stored = await eventually(() => service.collection.find({ channel: 'team' }).toArray(), (docs) => docs.length === 3)
  t.same(stored.map((doc) => [doc.sender, doc.clientId, doc._id.toHexString()]).sort(), [
    ['alice', 'phone-1', first.body.id], ['alice', 'phone-2', viaHeader.body.id], ['bob', 'phone-1', bobsOwn.body.id]
  ].sort())
  await sleep(200)
  t.same(listener.frames.map((frame) => frame.id), [first.body.id, viaHeader.body.id, bobsOwn.body.id], 'each broadcast once')
  await listener.close()
})

t.test('REST: concurrent resends of one clientId make one message', async (t) => {
  const service = await buildService(t)
  const answers = await Promise.all(Array.from({ length: 10 }, () =>
    post(`${service.base}/api/messages/team`, { content: 'burst', clientId: 'same' }, bearer(alice))))
  t.same(answers.map((answer) => answer.status).sort(), [200, 200, 200, 200, 200, 200, 200, 200, 200, 201])
  t.equal(new Set(answers.map((answer) => answer.body.id)).size, 1)
  await sleep(200)
  t.equal(await service.collection.countDocuments({ clientId: 'same' }), 1)
})

t.test('REST: a clientId that breaks the rules is a 400, and so are a body and header that disagree', async (t) => {
  const service = await buildService(t)
  const url = `${service.base}/api/messages/team`
  for (const clientId of ['', 'x'.repeat(65), 'has space', 'slash/es', 'ü', 5]) {
    const answer = await post(url, { content: 'x', clientId }, bearer(alice))
    t.match(answer, { status: 400, body: { statusCode: 400, code: String, message: /clientId/ } }, `body clientId ${JSON.stringify(clientId)}`)
  }
  const badHeader = await post(url, { content: 'x' }, { ...bearer(alice), 'idempotency-key': 'has space' })
  t.match(badHeader, { status: 400, body: { code: 'CHAT_INVALID_MESSAGE', message: /Idempotency-Key/ } })
  const disagree = await post(url, { content: 'x', clientId: 'a' }, { ...bearer(alice), 'idempotency-key': 'b' })
  t.match(disagree, { status: 400, body: { code: 'CHAT_INVALID_MESSAGE', message: /differ/ } })
  t.equal(await service.collection.countDocuments(), 0)
  t.equal((await post(url, { content: 'x', clientId: 'A-z_0.9:-' }, bearer(alice))).status, 201, 'every allowed character')
})

t.test('WebSocket: frames with a clientId are acked with the broadcast id; a resend is acked again but not broadcast', async (t) => {
  const service = await buildService(t)
  const sender = await Client.open(`${service.ws}?channel=team`, { headers: bearer(alice) })
  const listener = await Client.open(`${service.ws}?channel=team`, { headers: bearer(bob) })

  sender.send({ content: 'over ws', clientId: 'w-1' })
  const [broadcast] = await listener.receive(1)
  t.match(broadcast, { content: 'over ws', clientId: 'w-1', sender: 'alice', seq: Number })
  const frames = await sender.receive(2)
  t.same(frames.find((frame) => frame.ack !== undefined), { ack: { clientId: 'w-1', id: broadcast.id } })
  t.same(frames.find((frame) => frame.ack === undefined), broadcast, 'the sender gets its echo too')

  sender.send({ content: 'over ws', clientId: 'w-1' })
  const [, , resendAck] = await sender.receive(3)
  t.same(resendAck, { ack: { clientId: 'w-1', id: broadcast.id } }, 'the resend is acked with the same id')

  sender.send({ content: 'no id' })
  const [plain] = (await listener.receive(2)).slice(1)
  t.equal(plain.content, 'no id', 'the resend was not broadcast: the next frame is the next message')
  t.notOk('clientId' in plain, 'no clientId when none was given')

  sender.send({ content: '', clientId: 'w-2' })
  sender.send({ content: 'x', clientId: 'bad id' })
  const errors = (await sender.receive(6)).slice(4)
  t.match(errors[0], { error: { statusCode: 400, code: 'CHAT_INVALID_MESSAGE', clientId: 'w-2' } }, 'a refused frame\'s error carries its clientId')
  t.match(errors[1], { error: { statusCode: 400, code: 'CHAT_INVALID_MESSAGE', message: /clientId/ } })
  t.notOk('clientId' in errors[1].error, 'an invalid clientId is not echoed')

  const rest = await post(`${service.base}/api/messages/team`, { content: 'over ws', clientId: 'w-1' }, bearer(alice))
  t.same([rest.status, rest.body.id], [200, broadcast.id], 'REST and WebSocket share the clientId scope')
  await eventually(() => service.collection.countDocuments(), (count) => count === 2)
  await Promise.all([sender.close(), listener.close()])
})

t.test('WebSocket: a socket\'s messages keep their order, with and without clientIds mixed', async (t) => {
  const service = await buildService(t)
  const sender = await Client.open(`${service.ws}?channel=team`, { headers: bearer(alice) })
  const listener = await Client.open(`${service.ws}?channel=team`, { headers: bearer(bob) })
  for (let i = 0; i < 60; i++) sender.send(i % 3 === 0 ? { content: `m${i}` } : { content: `m${i}`, clientId: `order-${i}` })
  const received = await listener.receive(60)
  t.same(received.map((frame) => frame.content), Array.from({ length: 60 }, (_, i) => `m${i}`))
  t.ok(received.every((frame, i) => i === 0 || frame.seq === received[i - 1].seq + 1), 'seqs are contiguous')
  await Promise.all([sender.close(), listener.close()])
})

t.test('a clientId is recognised after a restart, from MongoDB', async (t) => {
  const mongo = await startMongo(t)
  const first = await buildService(t, {}, mongo)
  const sent = await post(`${first.base}/api/messages/team`, { content: 'before restart', clientId: 'r-1' }, bearer(alice))
  await eventually(() => first.collection.countDocuments(), (count) => count === 1)
  await first.host.close()

  const second = await buildService(t, {}, mongo)
  const listener = await Client.open(`${second.ws}?channel=team`, { headers: bearer(bob) })
  const resent = await post(`${second.base}/api/messages/team`, { content: 'before restart', clientId: 'r-1' }, bearer(alice))
  t.same([resent.status, resent.body], [200, sent.body])
  const sender = await Client.open(`${second.ws}?channel=team`, { headers: bearer(alice) })
  sender.send({ content: 'before restart', clientId: 'r-1' })
  t.same((await sender.receive(1))[0], { ack: { clientId: 'r-1', id: sent.body.id } })
  await sleep(200)
  t.same(listener.frames, [], 'nothing is broadcast again')
  t.equal(await second.collection.countDocuments(), 1)
  await Promise.all([listener.close(), sender.close()])
})

t.test('ACK_AFTER_STORE: the answer and the ack come once the message is in MongoDB', async (t) => {
  const service = await buildService(t, { ackAfterStore: true, writeBatchWindowMs: 100 })
  const posted = await post(`${service.base}/api/messages/team`, { content: 'durable' }, bearer(alice))
  t.equal(posted.status, 201)
  t.ok(await service.collection.findOne({ content: 'durable' }), 'stored before the 201')

  const sender = await Client.open(`${service.ws}?channel=team`, { headers: bearer(alice) })
  sender.send({ content: 'durable ws', clientId: 'd-1' })
  const frames = await sender.receive(2)
  const ack = frames.find((frame) => frame.ack !== undefined)
  t.ok(await service.collection.findOne({ clientId: 'd-1' }), 'stored before the ack')
  t.equal(ack.ack.id, frames.find((frame) => frame.ack === undefined).id)
  await sender.close()
})
