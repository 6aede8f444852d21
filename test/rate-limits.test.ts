// Per-user limits over real sockets: a message rate shared by REST and WebSocket, and a cap on a
// user's open WebSockets. One user flooding cannot fill the write queue for everyone else.
import t from 'tap'
import WebSocket from 'ws'
import { bearer, buildService, Client, get, mongoProxy, post, startMongo } from './helper.js'

const mallory = { id: 'mallory', groups: [] }
const bob = { id: 'bob', groups: ['team'] }
const alice = { id: 'alice', groups: ['team'] }

async function refusedForRate (base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text()
  return Number(/^chat_messages_refused_total\{reason="rate_limited"\} (\d+)$/m.exec(text)?.[1] ?? 0)
}

t.test('one user flooding over WebSocket and REST gets 429s; another user is unaffected and /ready stays 200', async (t) => {
  const mongo = await startMongo(t)
  // A database that takes its time: a queue that one user could fill would stay full.
  const slow = await mongoProxy(t, mongo.uri, 100)
  const rate = 5
  const burst = 20
  const service = await buildService(t, {
    userMessageRate: rate, userMessageBurst: burst, writeBatchSize: 10, writeBatchWindowMs: 0, readyQueueThreshold: 100, writeQueueMax: 200
  }, { uri: slow.uri, db: mongo.db })
  const reader = await Client.open(`${service.ws}?channel=team`, { headers: bearer(alice) })
  const flooder = await Client.open(`${service.ws}?channel=mallory`, { headers: bearer(mallory) })

  const started = Date.now()
  const frames = 1_000
  for (let i = 0; i < frames; i++) flooder.send({ content: `flood ${i}`, clientId: `f-${i}` })
  const posts = await Promise.all(Array.from({ length: 100 }, (_, i) =>
    post(`${service.base}/api/messages/mallory`, { content: `rest flood ${i}` }, bearer(mallory))))
  const answered = (): any[] => flooder.frames.filter((frame) => frame.ack !== undefined || frame.error !== undefined)
  while (answered().length < frames) await flooder.receive(flooder.frames.length + 1, 20_000)
  const elapsedS = (Date.now() - started) / 1000

  const wsRefused = answered().filter((frame) => frame.error !== undefined)
  const wsAccepted = answered().filter((frame) => frame.ack !== undefined)
  t.ok(wsRefused.every((frame) => frame.error.statusCode === 429 && frame.error.code === 'CHAT_RATE_LIMITED' && /^f-\d+$/.test(frame.error.clientId)),
    'WebSocket refusals are 429 CHAT_RATE_LIMITED error frames with the frame\'s clientId')
  const restRefused = posts.filter((answer) => answer.status === 429)
  const restAccepted = posts.filter((answer) => answer.status === 201)
  t.equal(restRefused.length + restAccepted.length, posts.length, 'REST answers 201 or 429')
  t.ok(restRefused.every((answer) => answer.body.code === 'CHAT_RATE_LIMITED' && /^[1-9]\d*$/.test(answer.headers.get('retry-after') ?? '')),
    'REST refusals are 429 CHAT_RATE_LIMITED with Retry-After in whole seconds')
  const accepted = wsAccepted.length + restAccepted.length
  t.ok(accepted >= burst, `the burst gets through (${accepted} accepted)`)
  t.ok(accepted <= burst + Math.ceil(rate * elapsedS) + 1, `no more than the burst plus the rate: ${accepted} in ${elapsedS.toFixed(1)} s`)
  t.equal(await refusedForRate(service.base), wsRefused.length + restRefused.length, 'metrics count each refusal as rate_limited')

  const ready = await get(`${service.base}/ready`)
  t.equal(ready.status, 200, `/ready stays 200 (queue depth ${ready.body.queueDepth})`)
  for (const n of [1, 2, 3]) t.equal((await post(`${service.base}/api/messages/team`, { content: `bob ${n}` }, bearer(bob))).status, 201, 'another user sends as usual')
  await reader.receive(3)
  t.same(reader.frames.map((frame) => frame.content), ['bob 1', 'bob 2', 'bob 3'], 'and is delivered')

  t.equal(flooder.socket.readyState, WebSocket.OPEN, 'the flooding socket stays open')
  const retryAfterS = Number(restRefused[0]!.headers.get('retry-after'))
  await new Promise((resolve) => setTimeout(resolve, retryAfterS * 1000))
  flooder.send({ content: 'after waiting', clientId: 'later' })
  await flooder.receive(flooder.frames.length + 2)
  t.ok(flooder.frames.some((frame) => frame.ack?.clientId === 'later'), 'after Retry-After, the user sends again')
  await flooder.close()
  await reader.close()
})

t.test('by default a user may send a burst of 60, then 20 a second', async (t) => {
  const service = await buildService(t, { userMessageRate: undefined, userMessageBurst: undefined })
  const started = Date.now()
  const answers = await Promise.all(Array.from({ length: 150 }, (_, i) => post(`${service.base}/api/messages/mallory`, { content: `m${i}` }, bearer(mallory))))
  const elapsedS = (Date.now() - started) / 1000
  const accepted = answers.filter((answer) => answer.status === 201).length
  t.equal(accepted + answers.filter((answer) => answer.status === 429).length, answers.length)
  t.ok(accepted >= 60 && accepted <= 60 + Math.ceil(20 * elapsedS) + 1, `${accepted} accepted in ${elapsedS.toFixed(2)} s`)
})

t.test('USER_MESSAGE_RATE=0 turns the limit off', async (t) => {
  const service = await buildService(t, { userMessageRate: 0, userMessageBurst: 1 })
  const statuses = await Promise.all(Array.from({ length: 30 }, () => post(`${service.base}/api/messages/mallory`, { content: 'x' }, bearer(mallory))))
  t.ok(statuses.every((answer) => answer.status === 201))
})

/** An upgrade's HTTP answer: 101, or the refusal with its JSON body. */
function upgrade (url: string, headers: Record<string, string>): Promise<{ status: number, body?: any, socket?: WebSocket }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers })
    socket.on('open', () => resolve({ status: 101, socket }))
    socket.on('unexpected-response', (_request, response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }))
    })
    socket.on('error', (error) => { if (!/Unexpected server response/.test(error.message)) reject(error) })
  })
}

t.test('USER_MAX_CONNECTIONS: the next upgrade of that user is refused with 429 before it opens; others are not', async (t) => {
  const service = await buildService(t, { userMaxConnections: 3 })
  const url = `${service.ws}?channel=team`
  const open = await Promise.all([1, 2, 3].map(() => upgrade(url, bearer(alice))))
  t.same(open.map((answer) => answer.status), [101, 101, 101])
  const refused = await upgrade(url, bearer(alice))
  t.equal(refused.status, 429)
  t.match(refused.body, { statusCode: 429, code: 'CHAT_TOO_MANY_CONNECTIONS', error: 'Too Many Requests', message: /3 open WebSockets/ })
  const other = await upgrade(url, bearer(bob))
  t.equal(other.status, 101, 'another user still connects')
  open[0]!.socket!.close()
  await new Promise((resolve) => open[0]!.socket!.once('close', resolve))
  // The server sees the close a moment after the client does.
  let again = await upgrade(url, bearer(alice))
  for (let i = 0; again.status === 429 && i < 20; i++) again = await upgrade(url, bearer(alice))
  t.equal(again.status, 101, 'a closed socket frees its place')
  for (const answer of [...open.slice(1), other, again]) answer.socket!.close()
})
