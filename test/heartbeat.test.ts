// The heartbeat over real sockets: a peer that never answers pings is cut off within the
// interval plus the timeout and leaves the counts; one that answers stays however quiet it is.
import t from 'tap'
import { WebSocket } from 'ws'
import { bearer, buildService, eventually, get, sleep } from './helper.js'

const INTERVAL_MS = 300
const TIMEOUT_MS = 300
const ann = { id: 'ann', groups: ['g1'] }

function open (url: string, options: WebSocket.ClientOptions): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, options)
    socket.once('open', () => resolve(socket))
    socket.once('error', reject)
  })
}

t.test('a socket that never answers pings is cut off within interval + timeout and leaves the counts', async (t) => {
  const service = await buildService(t, { wsPingIntervalMs: INTERVAL_MS, wsPongTimeoutMs: TIMEOUT_MS })
  const counts = async () => (await get(`${service.base}/api/messages/counts?channels=g1`)).body.g1
  // autoPong off: ws neither answers pings nor sends anything else.
  const silent = await open(`${service.ws}?channel=g1`, { headers: bearer(ann), autoPong: false })
  let pings = 0
  silent.on('ping', () => pings++)
  const opened = Date.now()
  t.equal(await counts(), 1)
  const closed = await new Promise<number>((resolve) => silent.once('close', () => resolve(Date.now())))
  t.ok(pings >= 1, `pinged before being cut off (${pings})`)
  // One tick (a quarter of the shorter period) of lateness at most, plus scheduling slack.
  t.ok(closed - opened <= INTERVAL_MS + TIMEOUT_MS + INTERVAL_MS, `cut off after ${closed - opened} ms`)
  t.ok(closed - opened >= INTERVAL_MS + TIMEOUT_MS - 50, 'not before interval + timeout')
  t.equal(await eventually(counts, (count) => count === 0), 0, 'gone from the counts')
  t.match(await (await fetch(`${service.base}/metrics`)).text(), /^chat_websocket_heartbeat_timeouts_total 1$/m)
})

t.test('a socket that answers pings stays open through three intervals of silence', async (t) => {
  const service = await buildService(t, { wsPingIntervalMs: INTERVAL_MS, wsPongTimeoutMs: TIMEOUT_MS })
  const quiet = await open(`${service.ws}?channel=g1`, { headers: bearer(ann) })
  let pings = 0
  quiet.on('ping', () => pings++)
  await sleep(3 * (INTERVAL_MS + TIMEOUT_MS))
  t.equal(quiet.readyState, WebSocket.OPEN)
  t.ok(pings >= 3, `pinged every interval (${pings})`)
  quiet.close()
})

t.test('WS_PING_INTERVAL_MS=0 turns the heartbeat off', async (t) => {
  const service = await buildService(t, { wsPingIntervalMs: 0, wsPongTimeoutMs: 100 })
  const silent = await open(`${service.ws}?channel=g1`, { headers: bearer(ann), autoPong: false })
  let pings = 0
  silent.on('ping', () => pings++)
  await sleep(600)
  t.equal(silent.readyState, WebSocket.OPEN)
  t.equal(pings, 0)
  silent.close()
})
