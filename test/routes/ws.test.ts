import t from 'tap'
import { connect } from 'node:net'
import { bearer, buildService, Client, eventually, get, post, sleep, token, upgradeStatus } from '../helper.js'

const alice = { id: 'alice', groups: ['team'] }
const bob = { id: 'bob', groups: ['team'] }

t.test('WebSocket clients of a channel all receive each message, the sender included', async (t) => {
  const service = await buildService(t)
  const a = await Client.open(`${service.ws}?channel=team`, { headers: bearer(alice) })
  const b = await Client.open(`${service.ws}?channel=team`, { headers: bearer(bob) })
  const outsider = await Client.open(`${service.ws}?channel=alice`, { headers: bearer(alice) })

  a.send({ content: 'from a websocket' })
  const [viaA] = await a.receive(1)
  const [viaB] = await b.receive(1)
  t.match(viaA, { channel: 'team', sender: 'alice', content: 'from a websocket', id: /^[0-9a-f]{24}$/, createdAt: String })
  t.same(viaB, viaA)

  const posted = await post(`${service.base}/api/messages/team`, { content: 'from REST' }, bearer(bob))
  t.same((await a.receive(2))[1], posted.body, 'a REST message is broadcast as the same JSON it was answered with')
  t.same((await b.receive(2))[1], posted.body)

  const stored = await eventually(() => service.collection.find({ channel: 'team' }).toArray(), (docs) => docs.length === 2)
  t.same(stored.map((doc) => doc._id.toHexString()).sort(), [viaA.id, posted.body.id].sort())
  t.same(outsider.frames, [], 'other channels receive nothing')
  await Promise.all([a.close(), b.close(), outsider.close()])
})

t.test('upgrade needs a token and access to the channel', async (t) => {
  const service = await buildService(t)
  t.equal(await upgradeStatus(`${service.ws}?channel=team`), 401)
  t.equal(await upgradeStatus(`${service.ws}?channel=bob`, bearer(alice)), 403)
  t.equal(await upgradeStatus(`${service.ws}?channel=tea`, bearer(alice)), 403)
  t.equal(await upgradeStatus(`${service.ws}`, bearer(alice)), 101, 'without a channel: a socket with no subscription yet')
  t.equal(await upgradeStatus(`${service.ws}?since=${'a'.repeat(24)}`, bearer(alice)), 400, 'since needs a channel')
  t.equal(await upgradeStatus(`${service.ws}?channel=%24where`, bearer({ id: '$where', groups: [] })), 400)
  t.equal(await upgradeStatus(`${service.ws}?channel=team`, bearer(alice)), 101)
  const plain = await get(`${service.base}/ws?channel=team`, bearer(alice))
  t.match(plain, { status: 426, body: { statusCode: 426, code: 'CHAT_UPGRADE_REQUIRED' } }, 'a plain GET is told to upgrade')
})

t.test('browsers pass the token as a subprotocol or an access_token query parameter', async (t) => {
  const service = await buildService(t)
  const viaProtocol = await Client.open(`${service.ws}?channel=team`, { protocols: ['access_token', token(alice)] })
  t.equal(viaProtocol.socket.protocol, 'access_token', 'the server selects the access_token subprotocol')
  const viaQuery = await Client.open(`${service.ws}?channel=team&access_token=${token(bob)}`)
  viaQuery.send({ content: 'hi' })
  t.match((await viaProtocol.receive(1))[0], { sender: 'bob', content: 'hi' })
  t.equal(await upgradeStatus(`${service.ws}?channel=team&access_token=${token({ id: 'carol', groups: [] })}`), 403)
  await Promise.all([viaProtocol.close(), viaQuery.close()])
})

t.test('a bad frame gets an error frame; the connection and the service live on', async (t) => {
  const service = await buildService(t)
  const client = await Client.open(`${service.ws}?channel=team`, { headers: bearer(alice) })
  const badFrames: Array<[string | Buffer, RegExp]> = [
    ['not json', /JSON/],
    ['{"content":""}', /content/],
    ['{"content":"  "}', /content/],
    ['{"content":5}', /content/],
    ['{}', /content/],
    ['null', /content/],
    ['[]', /content/],
    [JSON.stringify({ content: 'x'.repeat(4097) }), /content/],
    [Buffer.from([1, 2, 3]), /text/]
  ]
  for (const [frame] of badFrames) {
    if (Buffer.isBuffer(frame)) client.socket.send(frame, { binary: true })
    else client.send(frame)
  }
  const errors = await client.receive(badFrames.length)
  badFrames.forEach(([, message], index) => {
    t.match(errors[index], { error: { statusCode: 400, code: 'CHAT_INVALID_MESSAGE', error: 'Bad Request', message } })
  })
  client.send({ content: 'still here', sender: 'mallory' })
  t.match((await client.receive(badFrames.length + 1)).at(-1), { content: 'still here', sender: 'alice' })
  t.equal(client.socket.readyState, client.socket.OPEN)
  // The writer stores in arrival order, so once the good frame is stored, anything before it is too.
  const stored = await eventually(() => service.collection.countDocuments(), (count) => count > 0)
  t.equal(stored, 1, 'only the good frame was stored')
})

t.test('a frame over the size limit closes only that connection', async (t) => {
  const service = await buildService(t)
  const big = await Client.open(`${service.ws}?channel=team`, { headers: bearer(alice) })
  const other = await Client.open(`${service.ws}?channel=team`, { headers: bearer(bob) })
  big.send({ content: 'x'.repeat(1_100_000) })
  t.equal((await big.closed).code, 1009, 'message too big')
  other.send({ content: 'fine' })
  t.match((await other.receive(1))[0], { content: 'fine' })
  t.same((await get(`${service.base}/health`)).body, { status: 'ok' })
})

t.test('closing the service closes sockets with 1001', async (t) => {
  const service = await buildService(t)
  const client = await Client.open(`${service.ws}?channel=team`, { headers: bearer(alice) })
  await service.host.close()
  t.equal((await client.closed).code, 1001)
})

t.test('mounted: a refused upgrade gets its answer, then the server closes the connection', async (t) => {
  const service = await buildService(t, { allowedOrigins: 'http://app.example' })
  const { port } = new URL(service.base)
  const refused = [
    { why: 'no token', path: '/chat/ws?channel=team', headers: '' },
    { why: 'another origin', path: '/chat/ws?channel=team', headers: `Origin: http://elsewhere.example\r\nAuthorization: Bearer ${token(alice)}\r\n` },
    { why: 'no such route', path: '/chat/nowhere', headers: `Authorization: Bearer ${token(alice)}\r\n` }
  ]
  for (const { why, path, headers } of refused) {
    const socket = connect(Number(port), '127.0.0.1')
    let answer = ''
    socket.on('data', (chunk: Buffer) => { answer += chunk.toString('latin1') })
    const closedByServer = new Promise<boolean>((resolve) => socket.once('end', () => resolve(true)))
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${headers}\r\n`)
    await eventually(() => answer, (text) => text.includes('\r\n\r\n'))
    const closed = await Promise.race([closedByServer, sleep(2_000).then(() => false)])
    t.match(answer, /^HTTP\/1\.1 4\d\d /, `${why}: answered over HTTP`)
    t.ok(closed, `${why}: the server closed the connection`)
    socket.destroy()
  }
})
