// What a client without a token can hold, against the standalone server (server.ts) as its own
// process: the token is checked before a body is read, requests that never finish are closed,
// an upgrade to an unknown path is answered and closed, clients that go away are not errors,
// the counts endpoint is rate-limited per address, and no token reaches the log.
import t from 'tap'
import { connect } from 'node:net'
import { Client, startMongo, startServerProcess, token } from './helper.js'

const mongo = await startMongo(t)
const server = await startServerProcess(t, {
  MONGO_URI: mongo.uri,
  MONGO_DB: mongo.db,
  DEAD_LETTER_FILE: `${t.testdir()}/dead-letter.jsonl`,
  LOG_LEVEL: 'debug',
  REQUEST_TIMEOUT_MS: '1000',
  COUNTS_RATE_LIMIT: '5'
})
const port = Number(new URL(server.base).port)

interface Exchange {
  /** Everything the server sent. */
  received: string
  /** Whether the server closed the connection before the client gave up. */
  closedByServer: boolean
}

/** Writes raw bytes on a fresh connection and collects the answer until the server closes it or `waitMs` pass. */
function exchange (text: string, waitMs: number, options: { until?: RegExp, from?: string } = {}): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress: options.from })
    let received = ''
    const done = (closedByServer: boolean): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve({ received, closedByServer })
    }
    const timer = setTimeout(() => done(false), waitMs)
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1')
      if (options.until?.test(received)) done(false)
    })
    socket.on('close', () => done(true))
    socket.on('error', () => {})
    socket.write(text)
  })
}

const upgradeHeaders = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'

// First: later tests send counts requests of their own, which count too.
t.test('the counts endpoint answers 429 with Retry-After beyond COUNTS_RATE_LIMIT requests a minute from one address', async (t) => {
  // From an address of its own on the loopback network, so that the other tests' requests count apart.
  const ask = () => exchange('GET /api/messages/counts?channels=team HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 5_000, { from: '127.0.0.7' })
  const answers = []
  for (let i = 0; i < 7; i++) answers.push((await ask()).received)
  t.same(answers.map((answer) => Number(answer.slice(9, 12))), [200, 200, 200, 200, 200, 429, 429])
  const refused = answers.at(-1)!
  t.match(refused, /\r\nretry-after: [1-9]\d*\r\n/i, 'Retry-After in whole seconds')
  t.match(JSON.parse(refused.slice(refused.indexOf('\r\n\r\n') + 4)), { statusCode: 429, code: 'CHAT_RATE_LIMITED', error: 'Too Many Requests', message: /per minute/ })
  t.equal((await fetch(`${server.base}/api/messages/counts?channels=team`)).status, 200, 'another address is not limited')
  t.equal((await fetch(`${server.base}/health`)).status, 200, 'other routes are not limited')
})

t.test('a POST without a valid token is answered 401 before its body arrives', async (t) => {
  for (const authorization of ['', 'Authorization: Bearer not-a-token\r\n']) {
    // 60,000 bytes announced, 11 sent: the answer comes anyway, without waiting for the rest.
    const answer = await exchange(`POST /api/messages/team HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${authorization}Content-Length: 60000\r\n\r\n{"content":`,
      10_000, { until: /\r\n\r\n\{.*\}/s })
    t.match(answer.received, /^HTTP\/1\.1 401 /, authorization === '' ? 'no token' : 'an invalid token')
    t.match(answer.received, /"code":"CHAT_UNAUTHORIZED"/)
  }
})

t.test('requests whose headers or body never finish are closed (REQUEST_TIMEOUT_MS)', async (t) => {
  const auth = `Authorization: Bearer ${token({ id: 'alice', groups: ['team'] })}\r\n`
  const [body, counts, headers, nothing] = await Promise.all([
    exchange(`POST /api/messages/team HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${auth}Content-Length: 1000\r\n\r\n{"content":"x`, 15_000),
    exchange('GET /api/messages/counts HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n{"channels":[', 15_000),
    exchange('GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ', 15_000),
    exchange('', 15_000)
  ])
  for (const [name, answer] of Object.entries({ body, counts, headers, nothing })) {
    t.ok(answer.closedByServer, `${name}: closed by the server`)
    t.match(answer.received, /^HTTP\/1\.1 408 /, `${name}: 408 Request Timeout`)
  }
})

t.test('an open WebSocket outlives REQUEST_TIMEOUT_MS: the timeout is for requests, not connections', async (t) => {
  const client = await Client.open(`${server.base.replace('http', 'ws')}/ws?channel=team`, { headers: { authorization: `Bearer ${token({ id: 'alice', groups: ['team'] })}` } })
  await new Promise((resolve) => setTimeout(resolve, 2_500))
  client.send({ content: 'still here' })
  t.match((await client.receive(1))[0], { content: 'still here' })
  await client.close()
})

t.test('an upgrade to an unknown path is answered 404 and closed', async (t) => {
  const answer = await exchange(`GET /nowhere HTTP/1.1\r\nHost: x\r\n${upgradeHeaders}\r\n`, 10_000)
  t.match(answer.received, /^HTTP\/1\.1 404 /)
  t.ok(answer.closedByServer, 'the server closes the connection')
})

t.test('a client that goes away mid-request is logged at debug, not as an error', async (t) => {
  const auth = `Authorization: Bearer ${token({ id: 'alice', groups: ['team'] })}\r\n`
  const before = server.logs.length
  await Promise.all([
    exchange('GET /api/messages/counts HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n{"channels":[', 300),
    exchange(`POST /api/messages/team HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${auth}Content-Length: 1000\r\n\r\n{"content":"x`, 300)
  ])
  await new Promise((resolve) => setTimeout(resolve, 500))
  const entries = server.logs.slice(before)
  t.same(entries.filter((entry) => entry.level >= 40), [], 'no warning or error')
  t.ok(entries.some((entry) => entry.level === 20 && /aborted/.test(entry.msg)), 'a debug line says the client went away')
})

t.test('no token reaches the log, however its parameter name is encoded and whichever route it hits', async (t) => {
  const jwt = token({ id: 'alice', groups: ['team'] })
  const secrets = ['SECRET-ONE', 'SECRET-TWO', 'SECRET-THREE', 'SECRET-FOUR', 'SECRET-FIVE']
  await Promise.all([
    exchange(`GET /ws?channel=team&%61ccess_token=${secrets[0]} HTTP/1.1\r\nHost: x\r\n${upgradeHeaders}\r\n`, 2_000, { until: /\r\n\r\n/ }),
    exchange(`GET /health?access%5Ftoken=${secrets[1]} HTTP/1.1\r\nHost: x\r\n${upgradeHeaders}\r\n`, 2_000, { until: /\r\n\r\n/ }),
    exchange(`GET /api/messages/team?ACCESS_TOKEN=${secrets[2]}&limit=1 HTTP/1.1\r\nHost: x\r\n\r\n`, 2_000, { until: /\r\n\r\n/ }),
    exchange(`GET /nowhere?refresh_token=${secrets[3]} HTTP/1.1\r\nHost: x\r\n${upgradeHeaders}\r\n`, 2_000, { until: /\r\n\r\n/ }),
    exchange(`GET /ws?channel=team&%61ccess%5ftoken=${jwt} HTTP/1.1\r\nHost: x\r\n${upgradeHeaders}\r\n`, 2_000, { until: /\r\n\r\n/ }),
    exchange(`GET /health?x=1&id_token=${secrets[4]} HTTP/1.1\r\nHost: x\r\n\r\n`, 2_000, { until: /\r\n\r\n/ })
  ])
  await new Promise((resolve) => setTimeout(resolve, 500))
  const log = JSON.stringify(server.logs)
  for (const secret of [...secrets, jwt.split('.')[2]!]) t.notMatch(log, secret, `${secret.slice(0, 12)} is not in the log`)
  t.match(log, /%61ccess_token=\[redacted\]/, 'the parameter is logged, its value is not')
})
