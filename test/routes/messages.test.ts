import t from 'tap'
import { bearer, buildService, eventually, get, post } from '../helper.js'

const alice = { id: 'alice', groups: ['team'] }
const carol = { id: 'carol', groups: [] }

t.test('REST messages through a real socket, mounted under /chat', async (t) => {
  const service = await buildService(t)
  const url = (channel: string) => `${service.base}/api/messages/${channel}`

  t.test('the host keeps its own routes beside the plugin', async (t) => {
    const response = await get(service.base.replace('/chat', '/host-route'))
    t.same(response.body, { host: true })
    t.same((await get(`${service.base}/health`)).body, { status: 'ok' })
  })

  t.test('POST answers 201 with the message, sender from the token', async (t) => {
    const response = await post(url('team'), { content: 'hello', sender: 'mallory', id: 'x' }, bearer(alice))
    t.equal(response.status, 201)
    t.match(response.body, { channel: 'team', sender: 'alice', content: 'hello', id: /^[0-9a-f]{24}$/ })
    t.ok(Number.isFinite(Date.parse(response.body.createdAt)))
    t.same(Object.keys(response.body).sort(), ['channel', 'content', 'createdAt', 'id', 'sender', 'seq'])
    t.ok(Number.isSafeInteger(response.body.seq), 'its place in the channel')
    const stored = await eventually(() => service.collection.findOne({ content: 'hello' }), (doc) => doc !== null)
    t.match(stored, { channel: 'team', sender: 'alice', content: 'hello' })
    t.equal(stored!._id.toHexString(), response.body.id)
  })

  t.test('POST to a channel the user may not access is 403, to their own id is 201', async (t) => {
    t.equal((await post(url('bob'), { content: 'hi' }, bearer(alice))).status, 403)
    t.equal((await post(url('tea'), { content: 'hi' }, bearer(alice))).status, 403)
    t.equal((await post(url('alice'), { content: 'note to self' }, bearer(alice))).status, 201)
  })

  t.test('GET: members read every message of a channel, newest first', async (t) => {
    await post(url('history'), { content: 'one' }, bearer({ id: 'x', groups: ['history'] }))
    await post(url('history'), { content: 'two' }, bearer({ id: 'y', groups: ['history'] }))
    await post(url('history'), { content: 'three' }, bearer({ id: 'x', groups: ['history'] }))
    const read = () => get(url('history'), bearer({ id: 'z', groups: ['history'] }))
    const response = await eventually(read, (r) => r.body.length === 3)
    t.same(response.body.map((m: any) => m.content), ['three', 'two', 'one'])
  })

  t.test('GET: a non-member sees only their own messages in that channel', async (t) => {
    // carol once belonged to "club" and wrote there; now her token no longer lists it.
    await post(url('club'), { content: 'carol was here' }, bearer({ id: 'carol', groups: ['club'] }))
    await post(url('club'), { content: 'members only' }, bearer({ id: 'dave', groups: ['club'] }))
    await eventually(() => service.collection.countDocuments({ channel: 'club' }), (n) => n === 2)
    const asOutsider = await get(url('club'), bearer(carol))
    t.equal(asOutsider.status, 200)
    t.same(asOutsider.body.map((m: any) => m.content), ['carol was here'])
    const asStranger = await get(url('club'), bearer({ id: 'erin', groups: [] }))
    t.same(asStranger.body, [])
  })

  t.test('GET pages with limit and before', async (t) => {
    const member = bearer({ id: 'pager', groups: ['pages'] })
    for (let i = 0; i < 7; i++) await post(url('pages'), { content: `m${i}` }, member)
    await eventually(() => service.collection.countDocuments({ channel: 'pages' }), (n) => n === 7)
    const first = await get(`${url('pages')}?limit=3`, member)
    t.same(first.body.map((m: any) => m.content), ['m6', 'm5', 'm4'])
    const second = await get(`${url('pages')}?limit=3&before=${first.body[2].id}`, member)
    t.same(second.body.map((m: any) => m.content), ['m3', 'm2', 'm1'])
    const last = await get(`${url('pages')}?limit=3&before=${second.body[2].id}`, member)
    t.same(last.body.map((m: any) => m.content), ['m0'])
    t.equal((await get(`${url('pages')}?limit=0`, member)).status, 400)
    t.equal((await get(`${url('pages')}?limit=201`, member)).status, 400)
    for (const limit of ['abc', '1.5', '0x10', '1e2', '-1', '']) {
      t.equal((await get(`${url('pages')}?limit=${limit}`, member)).status, 400, `limit=${limit}`)
    }
    t.equal((await get(`${url('pages')}?before=not-an-id`, member)).status, 400)
  })

  t.test('the default history limit is 50', async (t) => {
    const member = bearer({ id: 'many', groups: ['many'] })
    await Promise.all(Array.from({ length: 60 }, (_, i) => post(url('many'), { content: `m${i}` }, member)))
    await eventually(() => service.collection.countDocuments({ channel: 'many' }), (n) => n === 60)
    t.equal((await get(url('many'), member)).body.length, 50)
  })
})

t.test('bad input gets a 4xx in one JSON shape, and the service serves on', async (t) => {
  const service = await buildService(t)
  const url = `${service.base}/api/messages/team`
  const shape = { statusCode: Number, code: String, error: String, message: String }
  const json = { 'content-type': 'application/json', ...bearer(alice) }
  const send = async (body: string, headers: Record<string, string> = json) => {
    const response = await fetch(url, { method: 'POST', headers, body })
    return { status: response.status, body: await response.json() }
  }

  const cases: Array<[string, Promise<{ status: number, body: any }>, number, RegExp]> = [
    ['missing content', send('{}'), 400, /content/],
    ['empty content', send('{"content":""}'), 400, /content/],
    ['blank content', send('{"content":"   "}'), 400, /content/],
    ['numeric content', send('{"content":5}'), 400, /content/],
    ['null content', send('{"content":null}'), 400, /content/],
    ['array body', send('["content"]'), 400, /object/],
    ['too long content', send(JSON.stringify({ content: 'x'.repeat(4097) })), 400, /content/],
    ['invalid JSON', send('{"content": "x"'), 400, /JSON/i],
    ['empty body', send(''), 400, /empty/i],
    ['wrong content type', send('content=x', { 'content-type': 'text/plain', ...bearer(alice) }), 415, /content-type/i],
    ['oversized body', send(JSON.stringify({ content: 'x'.repeat(70_000) })), 413, /large/i]
  ]
  for (const [name, pending, status, message] of cases) {
    const response = await pending
    t.equal(response.status, status, name)
    t.match(response.body, { ...shape, statusCode: status, message }, name)
  }

  for (const channel of ['%24where', '..%2Fetc', 'a%2Fb', '%20x', '.hidden', 'x'.repeat(101)]) {
    const response = await post(`${service.base}/api/messages/${channel}`, { content: 'x' }, bearer({ id: 'u', groups: [decodeURIComponent(channel)] }))
    // Longer than Fastify's maxParamLength (100) is refused by the router itself with 414.
    t.equal(response.status, channel.length > 100 ? 414 : 400, `channel ${channel}`)
    t.match(response.body, shape)
  }
  const history = await get(`${service.base}/api/messages/%24ne`, bearer(alice))
  t.equal(history.status, 400)

  const unknown = await get(`${service.base}/api/nothing-here`)
  t.match(unknown, { status: 404, body: { ...shape, code: 'CHAT_NOT_FOUND' } })

  t.equal((await post(url, { content: 'still serving' }, bearer(alice))).status, 201)
  t.equal(await service.collection.countDocuments({ content: { $ne: 'still serving' } }), 0, 'nothing refused was stored')
})
