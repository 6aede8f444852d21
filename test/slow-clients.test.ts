// Clients that stop reading are dropped at the buffer limit, and dropping them must not stall
// the clients that do read.
import t, { type Test } from 'tap'
import { join } from 'node:path'
import WebSocket from 'ws'
import { bearer, eventually, freePort, get, startServerProcess, stuckClient } from './helper.js'

const RATE_PER_SECOND = 1_000
const PADDING = 'x'.repeat(1_000)
const LATENCY_BOUND_MS = 150
const ATTEMPTS = 3
const member = bearer({ id: 'u', groups: ['load'] })

interface Outcome {
  sent: number
  allReceived: boolean
  /** The readers' worst latency for messages sent from 1 s before the drop was seen (polling every 25 ms) to 0.25 s after. */
  aroundDrop: number
  /** The readers' worst latency over the whole run, drop or not. */
  overall: number
}

/**
 * Ten clients that read nothing and three that read, on one channel at ~1,000 messages/s of
 * 1 KB, until the service drops the ten at its 8 MiB limit; then one more second.
 */
async function dropTenSlowClients (t: Test): Promise<Outcome> {
  // No database: accepted messages wait in the write queue. What is measured here is delivery.
  const nowhere = `mongodb://127.0.0.1:${await freePort()}/?directConnection=true`
  const server = await startServerProcess(t, { MONGO_URI: nowhere, DEAD_LETTER_FILE: join(t.testdir(), 'dead-letter.jsonl'), SHUTDOWN_TIMEOUT_MS: '500' })
  t.teardown(() => server.signal('SIGTERM'))
  const url = `${server.base.replace('http', 'ws')}/ws?channel=load`
  const connected = async () => (await get(`${server.base}/api/messages/counts?channels=load`)).body.load as number

  const slow = await Promise.all(Array.from({ length: 10 }, () => stuckClient(url, member)))
  t.teardown(() => slow.forEach((socket) => socket.destroy()))
  const open = async (): Promise<WebSocket> => {
    const socket = new WebSocket(url, { headers: member })
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject))
    t.teardown(() => socket.terminate())
    return socket
  }
  const readers = await Promise.all([1, 2, 3].map(async () => {
    const reader = { received: 0, arrivals: [] as Array<{ sentAt: number, latency: number }> }
    const socket = await open()
    socket.on('message', (data: Buffer) => {
      const sentAt = Number(JSON.parse(data.toString()).content.slice(0, 13))
      reader.received++
      reader.arrivals.push({ sentAt, latency: Date.now() - sentAt })
    })
    return reader
  }))
  const publisher = await open()
  if (await connected() !== 14) throw new Error('expected 14 clients on the channel')

  let sent = 0
  const started = Date.now()
  const publishing = setInterval(() => {
    for (const due = Math.floor((Date.now() - started) * RATE_PER_SECOND / 1_000); sent < due; sent++) {
      publisher.send(JSON.stringify({ content: String(Date.now()) + PADDING }))
    }
  }, 5)
  t.teardown(() => clearInterval(publishing))

  // Each non-reader fills 8 MiB in the service plus what the kernel buffers: ~10 s.
  await eventually(connected, (count) => count === 4, 60_000)
  const dropSeen = Date.now()
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  clearInterval(publishing)
  const allReceived = await eventually(() => readers.every((reader) => reader.received === sent), Boolean, 10_000).catch(() => false)

  const arrivals = readers.flatMap((reader) => reader.arrivals)
  const worst = (list: typeof arrivals) => Math.max(0, ...list.map((arrival) => arrival.latency))
  return {
    sent,
    allReceived,
    aroundDrop: worst(arrivals.filter(({ sentAt }) => sentAt > dropSeen - 1_000 && sentAt < dropSeen + 250)),
    overall: worst(arrivals)
  }
}

t.test(`ten clients that stop reading are dropped together while three others read ~1,000 messages/s of 1 KB: the others' latency stays under ${LATENCY_BOUND_MS} ms`, async (t) => {
  // Dropping costs the same every time; the scheduling noise of a loaded machine does not. So a
  // run whose only spike came from elsewhere is repeated, up to ATTEMPTS runs in all.
  const outcomes: Outcome[] = []
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    await t.test(`run ${attempt}`, async (t) => {
      const outcome = await dropTenSlowClients(t)
      t.ok(outcome.allReceived, `every reader got all ${outcome.sent} messages`)
      outcomes.push(outcome)
    })
    const last = outcomes[attempt - 1]
    if (last === undefined || last.aroundDrop < LATENCY_BOUND_MS) break
  }
  const best = Math.min(...outcomes.map((outcome) => outcome.aroundDrop))
  t.ok(best < LATENCY_BOUND_MS, `worst latency around the drop: ${outcomes.map((outcome) => `${outcome.aroundDrop} ms`).join(', then ')} (over whole runs: ${outcomes.map((outcome) => `${outcome.overall} ms`).join(', ')})`)
})
