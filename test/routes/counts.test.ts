import t from 'tap'
import { bearer, buildService, Client, eventually, get as counts, getWithBody } from '../helper.js'

t.test('counts go up and down as sockets open and close; no auth needed', async (t) => {
  const service = await buildService(t)
  const url = `${service.base}/api/messages/counts`
  const viaBody = () => getWithBody(url, JSON.stringify({ channels: ['team', 'alice', 'nobody'] }))
  const viaQuery = () => counts(`${url}?channels=team,alice,nobody`)

  t.same((await viaBody()).body, { team: 0, alice: 0, nobody: 0 })
  const first = await Client.open(`${service.ws}?channel=team`, { headers: bearer({ id: 'a', groups: ['team'] }) })
  const second = await Client.open(`${service.ws}?channel=team`, { headers: bearer({ id: 'b', groups: ['team'] }) })
  const own = await Client.open(`${service.ws}?channel=alice`, { headers: bearer({ id: 'alice', groups: [] }) })
  t.same((await viaBody()).body, { team: 2, alice: 1, nobody: 0 })
  t.same((await viaQuery()).body, { team: 2, alice: 1, nobody: 0 })

  await first.close()
  await eventually(viaQuery, (response) => response.body.team === 1)
  second.socket.terminate()
  await own.close()
  const emptied = await eventually(viaQuery, (response) => response.body.team === 0 && response.body.alice === 0)
  t.same(emptied.body, { team: 0, alice: 0, nobody: 0 })
})

t.test('counts accept the body even without a JSON content type, and both forms together', async (t) => {
  const service = await buildService(t)
  const url = `${service.base}/api/messages/counts`
  const formEncoded = await getWithBody(`${url}?channels=x`, '{"channels":["y"]}', { 'content-type': 'application/x-www-form-urlencoded' })
  t.same(formEncoded, { status: 200, body: { x: 0, y: 0 } })
  const odd = (await counts(`${url}?channels=__proto__`)).body
  t.equal(Object.getOwnPropertyDescriptor(odd, '__proto__')?.value, 0, 'odd but valid names stay plain keys')
})

t.test('bad counts requests are 4xx in the one error shape', async (t) => {
  const service = await buildService(t)
  const url = `${service.base}/api/messages/counts`
  const withBody = (body: string) => getWithBody(url, body)
  const shape = { statusCode: 400, code: 'CHAT_INVALID_COUNTS_REQUEST', error: 'Bad Request', message: String }
  t.match(await counts(url), { status: 400, body: shape }, 'no channels at all')
  t.match(await withBody('{"channels": '), { status: 400, body: { ...shape, message: /JSON/ } })
  t.match(await withBody('{"channels": "team"}'), { status: 400, body: shape })
  t.match(await withBody('{"channels": [1]}'), { status: 400, body: shape })
  t.match(await withBody('[]'), { status: 400, body: shape })
  t.match(await withBody('null'), { status: 400, body: shape })
  t.match(await counts(`${url}?channels=%24where`), { status: 400, body: shape })
  t.match(await counts(`${url}?channels=${Array.from({ length: 1001 }, (_, i) => `c${i}`).join(',')}`), { status: 400, body: { ...shape, message: /1000/ } })
  t.match(await withBody(JSON.stringify({ channels: Array.from({ length: 9000 }, (_, i) => `channel-${i}`) })), { status: 413, body: { statusCode: 413, code: 'CHAT_BODY_TOO_LARGE' } })
  const chunked = await getWithBody(url, JSON.stringify({ channels: Array.from({ length: 9000 }, (_, i) => `channel-${i}`) }), { 'transfer-encoding': 'chunked' })
  t.match(chunked, { status: 413, body: { statusCode: 413, code: 'CHAT_BODY_TOO_LARGE' } }, 'without a declared length too')
  t.same((await counts(`${url}?channels=ok`)).body, { ok: 0 }, 'and the service serves on')
})
