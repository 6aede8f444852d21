// Edits and deletes over real HTTP and WebSockets against jongodb: who may make them, what
// history shows, and how live and reconnecting clients learn of them.
import t from 'tap'
import { ObjectId } from 'mongodb'
import { bearer, buildService, call, Client, get, post } from './helper.js'

const ann = { id: 'ann', groups: ['team'] }
const ben = { id: 'ben', groups: ['team'] }
const moderator = { id: 'mo', groups: ['team'], realm_access: { roles: ['offline_access', 'chat-moderator'] } }
const outsideModerator = { id: 'mx', groups: [], realm_access: { roles: ['chat-moderator'] } }

t.test('an edit by the sender answers the message with its new content; anyone else 403; unknown and deleted ids 404', async (t) => {
  const service = await buildService(t)
  const sent = (await post(`${service.base}/api/messages/team`, { content: 'helo' }, bearer(ann))).body
  const url = `${service.base}/api/messages/team/${sent.id}`

  const edited = await call('PATCH', url, ann, { content: 'hello' })
  t.equal(edited.status, 200)
  t.match(edited.body, { id: sent.id, channel: 'team', sender: 'ann', content: 'hello', createdAt: sent.createdAt, seq: sent.seq, editedAt: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/ })
  t.match(await call('PATCH', url, ben, { content: 'mine now' }), { status: 403, body: { code: 'CHAT_CHANGE_FORBIDDEN' } })
  t.match(await call('PATCH', url, moderator, { content: 'moderated' }), { status: 403 }, 'a moderator may delete, not edit')
  t.match(await call('PATCH', url, ann, { content: '   ' }), { status: 400 })
  t.match(await call('PATCH', url, ann, { content: '\ud800' }), { status: 400, body: { code: 'CHAT_INVALID_MESSAGE' } })
  t.match(await call('PATCH', `${service.base}/api/messages/team/${new ObjectId().toHexString()}`, ann, { content: 'x' }), { status: 404, body: { code: 'CHAT_MESSAGE_NOT_FOUND' } })
  t.match(await call('PATCH', `${service.base}/api/messages/other/${sent.id}`, ann, { content: 'x' }), { status: 404 }, 'the id of another channel')
  t.match(await call('PATCH', url, ann), { status: 400 })

  t.equal((await call('DELETE', url, ann)).status, 204)
  t.match(await call('PATCH', url, ann, { content: 'back' }), { status: 404, body: { code: 'CHAT_MESSAGE_NOT_FOUND' } }, 'a deleted message cannot be edited')
})

t.test('a delete by the sender or a moderator (roles at a dotted claim path) leaves a tombstone in history; anyone else 403', async (t) => {
  const service = await buildService(t, { jwtRolesClaim: 'realm_access.roles' })
  const send = async (content: string, user: object) => (await post(`${service.base}/api/messages/team`, { content }, bearer(user))).body
  const own = await send('mine', ann)
  const abusive = await send('abusive', ben)
  const kept = await send('kept', ben)
  const url = (id: string) => `${service.base}/api/messages/team/${id}`

  t.match(await call('DELETE', url(abusive.id), ann), { status: 403, body: { code: 'CHAT_CHANGE_FORBIDDEN' } })
  t.match(await call('DELETE', url(abusive.id), outsideModerator), { status: 403 }, 'a moderator without access to the channel')
  t.equal((await call('DELETE', url(own.id), ann)).status, 204, 'by the sender')
  t.equal((await call('DELETE', url(abusive.id), moderator)).status, 204, 'by a moderator')
  t.equal((await call('DELETE', url(abusive.id), moderator)).status, 204, 'twice')
  t.match(await call('DELETE', url(new ObjectId().toHexString()), ann), { status: 404, body: { code: 'CHAT_MESSAGE_NOT_FOUND' } })

  const history = (await get(`${service.base}/api/messages/team`, bearer(ann))).body
  t.same(history.map((message: any) => message.content), ['kept', '', ''])
  const tombstone = history.find((message: any) => message.id === abusive.id)
  t.match(tombstone, { id: abusive.id, channel: 'team', sender: 'ben', content: '', createdAt: abusive.createdAt, seq: abusive.seq, deletedAt: String })
  t.notOk(history.find((message: any) => message.id === kept.id).deletedAt)
  t.same((await get(`${service.base}/api/unread`, bearer(moderator))).body, { mo: 0, team: 1 }, 'deleted messages are not unread')
})

t.test('sockets of the channel get edited and deleted frames in order; a socket that reconnects with since gets the changes to older messages, once each', async (t) => {
  const service = await buildService(t)
  const send = async (content: string) => (await post(`${service.base}/api/messages/team`, { content }, bearer(ann))).body
  const older = await send('older')
  const alsoOlder = await send('also older')
  const since = await send('the last one seen')
  const live = await Client.open(`${service.ws}?channel=team`, { headers: bearer(ben) })

  const edited = (await call('PATCH', `${service.base}/api/messages/team/${older.id}`, ann, { content: 'older, edited' })).body
  t.equal((await call('DELETE', `${service.base}/api/messages/team/${alsoOlder.id}`, ann)).status, 204)
  const after = await send('after the changes')
  const frames = await live.receive(3)
  t.same(frames[0], { edited })
  t.match(frames[1], { deleted: { channel: 'team', id: alsoOlder.id, deletedAt: String } })
  t.same(Object.keys(frames[1].deleted).sort(), ['channel', 'deletedAt', 'id'])
  t.match(frames[2], { id: after.id })

  const back = new Client(`${service.ws}?channel=team&since=${since.id}`, { headers: bearer(ben) })
  const missed = await back.receive(3)
  t.same(missed, frames, 'the same frames, in the same order')
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(back.frames.length, 3, 'once each')
  await Promise.all([live.close(), back.close()])
})

t.test('edits and deletes are counted', async (t) => {
  const service = await buildService(t)
  const sent = (await post(`${service.base}/api/messages/team`, { content: 'x' }, bearer(ann))).body
  await call('PATCH', `${service.base}/api/messages/team/${sent.id}`, ann, { content: 'y' })
  await call('DELETE', `${service.base}/api/messages/team/${sent.id}`, ann)
  await call('DELETE', `${service.base}/api/messages/team/${sent.id}`, ann)
  const metrics = await (await fetch(`${service.base}/metrics`)).text()
  t.match(metrics, /^chat_messages_edited_total 1$/m)
  t.match(metrics, /^chat_messages_deleted_total 1$/m)
})
