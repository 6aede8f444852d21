// The dead-letter location is checked at start, and again by /ready; a file that cannot be
// written keeps messages queued instead of dropping them.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  bearer, eventually, get, mongoProxy, post, spawnServerProcess, startMongo, startServerProcess
} from './helper.js'

const member = { id: 'u', groups: ['team'] }

t.test('an unusable DEAD_LETTER_FILE stops the start within seconds, with a message naming it, before jongodb is started', async (t) => {
  const directory = t.testdir({ 'a-regular-file': 'x' })
  const fifo = join(directory, 'fifo.jsonl')
  execFileSync('mkfifo', [fifo])
  const cases = {
    'under a regular file': { file: join(directory, 'a-regular-file', 'dead-letter.jsonl'), reason: /cannot create directory .+a-regular-file.+: File exists/ },
    // Node 20's recursive mkdir never settles there.
    'under /proc': { file: '/proc/chat-dead-letters/dead-letter.jsonl', reason: /cannot create directory .+chat-dead-letters.+: No such file or directory/ },
    // Opening a FIFO nobody reads blocks for ever: a file system that does not answer.
    'on a file system that does not answer': { file: fifo, reason: /did not answer within 5000 ms/ }
  }
  for (const [name, { file, reason }] of Object.entries(cases)) {
    t.test(name, async (t) => {
      const server = spawnServerProcess(t, { MONGO_URI: undefined, DEAD_LETTER_FILE: file, LOG_LEVEL: 'debug' })
      t.equal(await server.exited, 1, 'exits 1')
      const checking = server.logs.find((entry) => entry.msg === 'checking the dead-letter location')
      const fatal = server.logs.find((entry) => entry.msg === 'could not start')
      // Timed from the check itself: starting Node and the TypeScript loader is slow under coverage.
      const elapsed = fatal?.time - checking?.time
      t.ok(elapsed < 10_000, `the check failed within seconds (${elapsed} ms)`)
      t.match(fatal?.err?.message, /DEAD_LETTER_FILE \(option deadLetterFile\) ".+" is not usable/)
      t.match(fatal?.err?.message, reason)
      t.notOk(server.logs.some((entry) => /embedded in-memory/.test(entry.msg)), 'no jongodb was started')
    })
  }
})

t.test('a dead-letter location that becomes unwritable: /ready says so, and messages stay queued, counted in the log, until it is writable again', async (t) => {
  const mongo = await startMongo(t)
  const link = await mongoProxy(t, mongo.uri)
  const directory = join(t.testdir(), 'dead-letters')
  const file = join(directory, 'messages.jsonl')
  const server = await startServerProcess(t, {
    MONGO_URI: link.uri, MONGO_DB: mongo.db, DEAD_LETTER_FILE: file, RETRY_ATTEMPTS: '0', WRITE_RETRY_MAX_DELAY_MS: '200'
  })
  t.match(await get(`${server.base}/ready`), { status: 200, body: { deadLetter: 'writable' } })

  link.down()
  await rm(directory, { recursive: true })
  await writeFile(directory, 'not a directory any more')
  const accepted = await Promise.all([1, 2, 3, 4, 5].map(async (i) => (await post(`${server.base}/api/messages/team`, { content: `m${i}` }, bearer(member))).body.id))
  const logged = await eventually(() => server.logs.find((entry) => /dead-letter file is not writable/.test(entry.msg)), Boolean, 30_000)
  t.match(logged, { level: 50, count: Number, queued: 5, file }, 'an error log line counts them: the batch, and all that wait')
  // /ready checks the location at most every 2 s.
  const notReady = await eventually(() => get(`${server.base}/ready`), (answer) => answer.body.deadLetter === 'unwritable', 10_000)
  t.match(notReady, { status: 503, body: { deadLetter: 'unwritable', queueDepth: 5 } }, 'nothing was dropped')

  await rm(directory)
  // The file, or the copy a replay renamed it to while it waits for MongoDB.
  const deadLetterLines = async () => {
    const names = await readdir(directory).catch(() => [])
    const texts = await Promise.all(names.map((name) => readFile(join(directory, name), 'utf8').catch(() => '')))
    return texts.join('').split('\n').filter((line) => line !== '')
  }
  const lines = await eventually(deadLetterLines, (found) => found.length === 5, 30_000)
  t.same(lines.map((line) => JSON.parse(line)._id).sort(), accepted.sort(), 'handed to the file once it can be written')
  t.match(await eventually(() => get(`${server.base}/ready`), (answer) => answer.body.deadLetter === 'writable', 10_000), { body: { deadLetter: 'writable', queueDepth: 0 } })
  server.signal('SIGTERM')
  t.equal(await server.exited, 0)
})
