// Read state and message changes across three instances (server.ts processes) sharing one
// MongoDB and one Redis.
import t from 'tap'
import { bearer, call, Client, get, post, sleep, startCluster, wsUrlOf as wsUrl } from './helper.js'

const member = (id: string, roles: string[] = []) => ({ id, groups: ['team'], realm_access: { roles } })
const ann = member('ann')
const ben = member('ben')
const moderator = member('mo', ['chat-moderator'])
const env = { JWT_ROLES_CLAIM: 'realm_access.roles' }

t.test('edits and deletes reach sockets on every instance in order; a socket that reconnects elsewhere with since gets them once; history shows the tombstone', async (t) => {
  const { servers } = await startCluster(t, env)
  const [a, b, c] = servers as [typeof servers[0], typeof servers[0], typeof servers[0]]
  const send = async (content: string) => (await post(`${a.base}/api/messages/team`, { content }, bearer(ann))).body
  const older = await send('older')
  const abusive = await send('abusive')
  const since = await send('last seen')
  const sockets = await Promise.all(servers.map((server) => Client.open(wsUrl(server), { headers: bearer(ben) })))

  const edited = await call('PATCH', `${b.base}/api/messages/team/${older.id}`, ann, { content: 'older, edited' })
  t.equal(edited.status, 200)
  t.equal((await call('DELETE', `${c.base}/api/messages/team/${abusive.id}`, moderator)).status, 204, 'a moderator, by a claim at a dotted path')
  const after = (await post(`${b.base}/api/messages/team`, { content: 'after' }, bearer(ann))).body
  const expected = [{ edited: edited.body }, { deleted: { channel: 'team', id: abusive.id, deletedAt: String } }, { id: after.id }]
  for (const socket of sockets) t.match(await socket.receive(3, 10_000), expected, 'the same frames, in order, on every instance')

  const back = new Client(`${wsUrl(c)}&since=${since.id}`, { headers: bearer(ben) })
  t.same(await back.receive(3, 10_000), sockets[0]!.frames, 'a reconnect on another instance gets the changes to older messages, in order')
  await sleep(300)
  t.equal(back.frames.length, 3, 'once each')

  const history = (await get(`${c.base}/api/messages/team`, bearer(ben))).body
  t.match(history.find((message: any) => message.id === abusive.id), { content: '', deletedAt: String, sender: 'ann', seq: abusive.seq, createdAt: abusive.createdAt })
  t.match(history.find((message: any) => message.id === older.id), { content: 'older, edited', editedAt: edited.body.editedAt })
  await Promise.all([...sockets, back].map((socket) => socket.close()))
})

t.test('markers are shared by every instance and only move forward; unread counts agree everywhere', async (t) => {
  const { servers } = await startCluster(t, env)
  const [a, b, c] = servers as [typeof servers[0], typeof servers[0], typeof servers[0]]
  const sent = []
  for (let i = 0; i < 3; i++) sent.push((await post(`${a.base}/api/messages/team`, { content: `m${i}` }, bearer(ann))).body)
  t.equal((await call('PUT', `${a.base}/api/channels/team/read`, ben, { id: sent[1].id })).status, 204)
  t.equal((await call('PUT', `${b.base}/api/channels/team/read`, ben, { id: sent[0].id })).status, 204, 'an older id elsewhere')
  for (const server of servers) {
    t.equal((await get(`${server.base}/api/channels/team/read`, bearer(ann))).body.ben, sent[1].id)
    t.same((await get(`${server.base}/api/unread`, bearer(ben))).body, { ben: 0, team: 1 })
  }
  t.equal((await call('PATCH', `${c.base}/api/messages/team/${sent[2].id}`, ben, { content: 'not mine' })).status, 403)
  t.equal((await call('DELETE', `${c.base}/api/messages/team/${sent[2].id}`, ben)).status, 403)
})

t.test('a receipt reaches the reader\'s other device on another instance', async (t) => {
  const { servers } = await startCluster(t, env)
  const [a, b] = servers as [typeof servers[0], typeof servers[0]]
  const sent = (await post(`${a.base}/api/messages/team`, { content: 'read me' }, bearer(ann))).body
  const phone = await Client.open(wsUrl(a), { headers: bearer(ben) })
  const laptop = await Client.open(wsUrl(b), { headers: bearer(ben) })
  phone.send({ read: { channel: 'team', id: sent.id } })
  t.same(await laptop.receive(1, 10_000), [{ read: { channel: 'team', user: 'ben', id: sent.id } }])
  await Promise.all([phone.close(), laptop.close()])
})
