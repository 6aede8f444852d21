// Catch-up memory is bounded: clients that reconnect with a large history to catch up on and then
// read nothing hold at most CATCH_UP_MEMORY_BYTES of the server's memory between them, not a
// copy of the history each. Measured as the resident memory of the server process. A catch-up
// that cannot get its share of that memory in time is told so (CHAT_CATCH_UP_BUSY) and goes live.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { Client, get, startMongo, startServerProcess, stuckClient, token, wsUrlOf } from './helper.js'

const MiB = 1024 * 1024
/** The smallest budget allowed: one page of the largest messages, so one stuck catch-up holds all of it. */
const BUDGET = 1 * MiB
/** What the server may grow by beyond the budget: pages read and not yet collected, socket buffers, the runtime. */
const SLACK = 40 * MiB
const HISTORY = 1_500
/** 12,000 bytes as UTF-8 within the 4096 characters allowed. */
const CONTENT = '€'.repeat(4_000)
const CATCH_UPS = 8
const SEED_STEP = 100

function residentBytes (pid: number): number {
  const kib = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(kib![1]) * 1024
}

t.test(`${CATCH_UPS} catch-ups of ${HISTORY} messages of 12 KB that never read keep the server within CATCH_UP_MEMORY_BYTES plus ${SLACK / MiB} MiB, and one more is told it is busy`, async (t) => {
  const mongo = await startMongo(t)
  const server = await startServerProcess(t, {
    MONGO_URI: mongo.uri,
    MONGO_DB: mongo.db,
    DEAD_LETTER_FILE: `${t.testdir()}/dead-letter.jsonl`,
    CATCH_UP_MEMORY_BYTES: String(BUDGET),
    USER_MESSAGE_RATE: '0'
  })
  const alice = { authorization: `Bearer ${token({ id: 'alice', groups: ['team'] })}` }
  const writer = await Client.open(wsUrlOf(server), { headers: alice })
  // In steps, each waiting for its echoes, so the writer is never far enough behind to be dropped as a slow client.
  for (let sent = 0; sent < HISTORY; sent += SEED_STEP) {
    for (let i = sent; i < sent + SEED_STEP; i++) writer.send({ content: `${i}${CONTENT}` })
    await writer.receive(sent + SEED_STEP, 60_000)
  }
  const history = writer.frames
  await writer.close()
  for (let depth = Infinity; depth > 0;) {
    depth = (await get(`${server.base}/ready`)).body.queueDepth
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  await new Promise((resolve) => setTimeout(resolve, 2_000))
  const before = residentBytes(server.pid)

  const since = history[0].id
  const stuck = await Promise.all(Array.from({ length: CATCH_UPS }, () => stuckClient(`${wsUrlOf(server)}&since=${since}`, alice)))
  t.teardown(() => { for (const socket of stuck) socket.destroy() })
  let peak = before
  for (let i = 0; i < 40; i++) {
    await new Promise((resolve) => setTimeout(resolve, 250))
    peak = Math.max(peak, residentBytes(server.pid))
  }
  const grown = peak - before
  t.comment(`server RSS ${(before / MiB).toFixed(0)} MiB before, peak ${(peak / MiB).toFixed(0)} MiB with ${CATCH_UPS} stuck catch-ups: +${(grown / MiB).toFixed(1)} MiB`)
  t.ok(grown <= BUDGET + SLACK, `grew by ${(grown / MiB).toFixed(1)} MiB, at most ${(BUDGET + SLACK) / MiB} MiB`)

  // The first stuck catch-up holds the whole budget until its client reads or is dropped (30 s):
  // a client that reads waits for its share (10 s), is told to fetch over REST, and goes live.
  const reader = new Client(`${wsUrlOf(server)}&since=${history[HISTORY - 3].id}`, { headers: alice })
  const [busy] = await reader.receive(1, 30_000)
  t.equal(busy.error?.code, 'CHAT_CATCH_UP_BUSY', 'told that the catch-up is busy')
  const writerAgain = await Client.open(wsUrlOf(server), { headers: alice })
  writerAgain.send({ content: 'live after busy' })
  const [, live] = await reader.receive(2, 10_000)
  t.equal(live.content, 'live after busy', 'and gets live messages')
  await Promise.all([reader.close(), writerAgain.close()])
})
