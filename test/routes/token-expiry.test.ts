import t from 'tap'
import { buildService, Client, post, token } from '../helper.js'
import { signingKey, signWith, startJwksServer } from '../jwks-server.js'

const alice = { id: 'alice', groups: ['team'] }
const bob = { id: 'bob', groups: ['team'] }
const nowS = (): number => Math.floor(Date.now() / 1000)
const bearerOf = (jwt: string) => ({ authorization: `Bearer ${jwt}` })

t.test('a socket is closed with 4001 when its token expires; sockets with a later exp or none stay open', async (t) => {
  const service = await buildService(t, { jwtClockToleranceS: 0 })
  const exp = nowS() + 2
  const expiring = await Client.open(`${service.ws}?channel=team`, { headers: bearerOf(token({ ...alice, exp })) })
  const later = await Client.open(`${service.ws}?channel=team`, { headers: bearerOf(token({ ...bob, exp: nowS() + 3600 })) })
  const forever = await Client.open(`${service.ws}?channel=team`, { headers: bearerOf(token(bob)) })

  const closed = await expiring.closed
  t.same(closed, { code: 4001, reason: 'token expired' })
  t.ok(Date.now() >= exp * 1000, 'not before exp')
  t.ok(Date.now() < (exp + 3) * 1000, 'and soon after it')
  later.send({ content: 'still here' })
  t.match((await forever.receive(1))[0], { sender: 'bob', content: 'still here' })
  t.equal(later.socket.readyState, later.socket.OPEN)
  t.equal(forever.socket.readyState, forever.socket.OPEN)
  await Promise.all([later.close(), forever.close()])
})

t.test('after 4001 a client reconnects with a fresh token and since=<last id>, and loses nothing', async (t) => {
  const service = await buildService(t, { jwtClockToleranceS: 0 })
  const client = await Client.open(`${service.ws}?channel=team`, { headers: bearerOf(token({ ...alice, exp: nowS() + 2 })) })
  const first = await post(`${service.base}/api/messages/team`, { content: 'before expiry' }, bearerOf(token(bob)))
  const [received] = await client.receive(1)
  t.equal(received.id, first.body.id)
  t.equal((await client.closed).code, 4001)
  const missed = await post(`${service.base}/api/messages/team`, { content: 'while away' }, bearerOf(token(bob)))
  const again = await Client.open(`${service.ws}?channel=team&since=${received.id}`, { headers: bearerOf(token({ ...alice, exp: nowS() + 3600 })) })
  t.match((await again.receive(1))[0], { id: missed.body.id, content: 'while away' })
  await again.close()
})

t.test('the expiry applies to identity-provider tokens, after the clock tolerance', async (t) => {
  const key = await signingKey('ES256')
  const jwks = await startJwksServer(t, [key])
  const service = await buildService(t, { jwtSecret: undefined, jwtJwksUrl: jwks.url, jwtClockToleranceS: 1 })
  const exp = nowS() + 1
  const client = await Client.open(`${service.ws}?channel=team`, { headers: bearerOf(await signWith(key, { ...alice, exp })) })
  t.same(await client.closed, { code: 4001, reason: 'token expired' })
  t.ok(Date.now() >= (exp + 1) * 1000, 'not before exp plus the tolerance')
})
