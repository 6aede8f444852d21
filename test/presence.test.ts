// Presence and typing on one instance: the endpoint, the opt-in presence frames, typing notices.
import t from 'tap'
import { bearer, buildService, Client, eventually, get, sleep } from './helper.js'

const LEAVE_DELAY_MS = 300
const TYPING_INTERVAL_MS = 400
const member = (id: string) => bearer({ id, groups: ['team'] })
const kinds = (client: Client) => client.frames.filter((frame) => frame.presence ?? frame.join ?? frame.leave ?? frame.typing)

t.test('GET /api/channels/:channel/presence: distinct users, sorted, limited; the access rule of the channel', async (t) => {
  const service = await buildService(t, { presenceLeaveDelayMs: LEAVE_DELAY_MS })
  const url = `${service.base}/api/channels/team/presence`
  t.same((await get(url, member('ann'))).body, { channel: 'team', total: 0, users: [] })
  const clients = await Promise.all(['cat', 'ann', 'ben', 'ann'].map((id) => Client.open(`${service.ws}?channel=team`, { headers: member(id) })))
  t.same((await get(url, member('ann'))).body, { channel: 'team', total: 3, users: ['ann', 'ben', 'cat'] }, 'two sockets of ann count once')
  t.same((await get(`${url}?limit=2`, member('ann'))).body, { channel: 'team', total: 3, users: ['ann', 'ben'] })
  t.same((await get(`${url}?limit=1000`, member('ann'))).body.total, 3)
  for (const limit of ['0', '1001', 'x', '1.5']) {
    const answer = await get(`${url}?limit=${limit}`, member('ann'))
    t.equal(answer.status, 400, `limit=${limit}`)
    t.equal(answer.body.code, 'FST_ERR_VALIDATION')
  }
  t.equal((await get(url)).status, 401)
  const forbidden = await get(`${service.base}/api/channels/other/presence`, member('ann'))
  t.equal(forbidden.status, 403)
  t.equal(forbidden.body.code, 'CHAT_FORBIDDEN')
  t.equal((await get(`${service.base}/api/channels/ann/presence`, member('ann'))).status, 200, 'a user\'s own channel')

  await Promise.all(clients.map((client) => client.close()))
  t.same((await get(url, member('ann'))).body.users, ['ann', 'ben', 'cat'], 'still present during the leave delay')
  t.same((await eventually(() => get(url, member('ann')), (answer) => answer.body.total === 0, 3_000)).body.users, [])
})

t.test('presence=true: the presence frame, then one join per user and a leave once their last socket is gone; others get none', async (t) => {
  const service = await buildService(t, { presenceLeaveDelayMs: LEAVE_DELAY_MS })
  const open = (id: string, presence = true) => Client.open(`${service.ws}?channel=team${presence ? '&presence=true' : ''}`, { headers: member(id) })
  const ann = await open('ann')
  t.same(await ann.receive(1), [{ presence: { channel: 'team', users: ['ann'] } }])
  const plain = await open('dan', false)
  t.same(await ann.receive(2), [{ presence: { channel: 'team', users: ['ann'] } }, { join: { channel: 'team', user: 'dan' } }])
  const ben1 = await open('ben')
  t.same((await ben1.receive(1))[0], { presence: { channel: 'team', users: ['ann', 'ben', 'dan'] } })
  const ben2 = await open('ben')
  await ben2.receive(1)
  await sleep(200)
  t.same(ann.frames.slice(2), [{ join: { channel: 'team', user: 'ben' } }], 'ben\'s second socket sends no join')

  await ben1.close()
  await sleep(LEAVE_DELAY_MS + 200)
  t.equal(ann.frames.length, 3, 'no leave while ben has a socket left')
  await ben2.close()
  t.same((await ann.receive(4))[3], { leave: { channel: 'team', user: 'ben' } })

  // A reload within the delay: neither leave nor join.
  await plain.close()
  await open('dan', false)
  await sleep(LEAVE_DELAY_MS + 200)
  t.equal(ann.frames.length, 4, 'a reload within the delay makes no change')
  t.same(kinds(plain), [], 'a socket without presence=true gets no presence frames')
})

t.test('typing: relayed to the other users\' sockets only, throttled, never stored; 403 without access', async (t) => {
  const service = await buildService(t, { typingIntervalMs: TYPING_INTERVAL_MS })
  const open = (id: string) => Client.open(`${service.ws}?channel=team`, { headers: member(id) })
  const [ann1, ann2, ben] = await Promise.all([open('ann'), open('ann'), open('ben')])
  ann1.send({ typing: { channel: 'team' } })
  t.same(await ben.receive(1), [{ typing: { channel: 'team', user: 'ann' } }])
  ann1.send({ typing: { channel: 'team' } })
  ann2.send({ typing: { channel: 'team' } })
  await sleep(200)
  t.equal(ben.frames.length, 1, 'more notices within the interval are dropped')
  t.same([...ann1.frames, ...ann2.frames], [], 'the sender\'s own sockets get nothing')
  await sleep(TYPING_INTERVAL_MS)
  ann2.send({ typing: { channel: 'team' } })
  t.same((await ben.receive(2))[1], { typing: { channel: 'team', user: 'ann' } }, 'one more after the interval')

  ann1.send({ typing: { channel: 'secret' } })
  const [refused] = await ann1.receive(1)
  t.match(refused, { error: { statusCode: 403, code: 'CHAT_FORBIDDEN', channel: 'secret' } })
  ann1.send({ typing: {} })
  t.match((await ann1.receive(2))[1], { error: { statusCode: 400, code: 'CHAT_INVALID_FRAME' } })

  t.same((await get(`${service.base}/api/messages/team`, member('ann'))).body, [], 'nothing stored')
  const metrics = await (await fetch(`${service.base}/metrics`)).text()
  t.match(metrics, /^chat_typing_relayed_total 2$/m)
  t.match(metrics, /^chat_typing_dropped_total 2$/m)
  t.match(metrics, /^chat_presence_users 2$/m)
  t.match(metrics, /^chat_messages_accepted_total\{transport="ws"\} 0$/m, 'not counted as messages')
})

t.test('subscribe with presence: true on one socket of several channels: subscribed, then the presence frame, then joins and leaves', async (t) => {
  const service = await buildService(t, { presenceLeaveDelayMs: LEAVE_DELAY_MS })
  const headers = bearer({ id: 'ann', groups: ['team', 'other'] })
  const ann = await Client.open(service.ws, { headers })
  ann.send({ subscribe: { channel: 'other' } })
  ann.send({ subscribe: { channel: 'team', presence: true } })
  await eventually(() => ann.frames.length, (count) => count >= 3)
  t.same(ann.frames.slice(0, 3), [{ subscribed: { channel: 'other' } }, { subscribed: { channel: 'team' } }, { presence: { channel: 'team', users: ['ann'] } }])
  const ben = await Client.open(service.ws, { headers: member('ben') })
  ben.send({ subscribe: { channel: 'team' } })
  t.same((await ann.receive(4))[3], { join: { channel: 'team', user: 'ben' } })
  ben.send({ typing: { channel: 'team' } })
  t.same((await ann.receive(5))[4], { typing: { channel: 'team', user: 'ben' } }, 'typing reaches the subscribers of the channel')
  ben.send({ unsubscribe: { channel: 'team' } })
  t.same((await ann.receive(6, 3_000))[5], { leave: { channel: 'team', user: 'ben' } }, 'an unsubscribe leaves like a close')
  ann.send({ subscribe: { channel: 'team', presence: 'yes' } })
  t.match((await ann.receive(7))[6], { error: { statusCode: 400, code: 'CHAT_INVALID_FRAME', channel: 'team' } })
  await Promise.all([ann.close(), ben.close()])
})
