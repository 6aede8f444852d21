// Answers sent before a body is read (a 413 for its size, a 401 before the upload) reach a
// client that sends its whole body first and reads after, as fetch does: every time, as a
// response in the error shape, never as a reset mid-write (EPIPE, ECONNRESET).
import t from 'tap'
import { connect } from 'node:net'
import { bearer, buildService, startMongo, startServerProcess } from './helper.js'

const alice = { id: 'alice', groups: ['team'] }
const TWO_MIB = 2 * 1024 * 1024
const TRIES = 20

// The standalone server as its own process, as clients meet it: an in-process server shares the
// test's event loop, which hides part of the race between the answer and the upload.
const mongo = await startMongo(t)
const server = await startServerProcess(t, { MONGO_URI: mongo.uri, MONGO_DB: mongo.db, DEAD_LETTER_FILE: `${t.testdir()}/dead-letter.jsonl` })
const messagesUrl = `${server.base}/api/messages/team`
const tooLarge = { status: 413, body: { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE', error: 'Payload Too Large', message: /large/i } }
const unauthorized = { status: 401, body: { statusCode: 401, code: 'CHAT_UNAUTHORIZED', error: 'Unauthorized' } }

type Answer = { status: number, body: unknown } | { failed: string }

async function send (url: string, body: BodyInit, headers: Record<string, string>): Promise<Answer> {
  try {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, duplex: 'half' } as RequestInit)
    return { status: response.status, body: await response.json() }
  } catch (error) {
    const cause = (error as { cause?: { code?: string, message?: string } }).cause
    return { failed: `${(error as Error).message}: ${cause?.code ?? cause?.message ?? ''}` }
  }
}

/** A JSON body of `size` bytes. */
function bigBody (size: number): string {
  const head = '{"content":"x","padding":"'
  return `${head}${'p'.repeat(size - head.length - 2)}"}`
}

/**
 * A body a slow uploader sends: 64 KiB every few milliseconds, so that most of it is still to
 * come when the answer is sent. With `declared`, its length goes in Content-Length; else chunked.
 */
function pacedBody (size: number, declared: boolean): { body: ReadableStream<Uint8Array>, headers: Record<string, string> } {
  const bytes = new TextEncoder().encode(bigBody(size))
  let offset = 0
  const body = new ReadableStream<Uint8Array>({
    async pull (controller) {
      if (offset >= bytes.length) return controller.close()
      await new Promise((resolve) => setTimeout(resolve, 3))
      controller.enqueue(bytes.subarray(offset, offset + 64 * 1024))
      offset += 64 * 1024
    }
  })
  return { body, headers: declared ? { 'content-length': String(bytes.length) } : {} }
}

function failures (answers: Answer[], status: number): Answer[] {
  return answers.filter((answer) => !('status' in answer) || answer.status !== status)
}

t.test(`a 2 MiB POST gets its 413 in the error shape, ${TRIES} times of ${TRIES}`, async (t) => {
  const body = bigBody(TWO_MIB)
  const answers: Answer[] = []
  for (let i = 0; i < TRIES; i++) answers.push(await send(messagesUrl, body, bearer(alice)))
  t.same(failures(answers, 413), [], 'no failed fetch, no other status')
  for (const answer of answers) t.match(answer, tooLarge)
})

t.test('a 2 MiB POST from a slow uploader gets its 413, with or without a declared length', async (t) => {
  for (const declared of [true, false]) {
    const answers: Answer[] = []
    for (let i = 0; i < 5; i++) {
      const { body, headers } = pacedBody(TWO_MIB, declared)
      answers.push(await send(messagesUrl, body, { ...bearer(alice), ...headers }))
    }
    t.same(failures(answers, 413), [], declared ? 'Content-Length: 2 MiB' : 'chunked')
    for (const answer of answers) t.match(answer, { ...tooLarge, body: { ...tooLarge.body, code: declared ? 'FST_ERR_CTP_BODY_TOO_LARGE' : String } })
  }
})

t.test('a 2 MiB POST without a valid token gets its 401 in the error shape, every time', async (t) => {
  for (const headers of [{}, { authorization: 'Bearer not-a-token' }] as Array<Record<string, string>>) {
    const answers: Answer[] = []
    for (let i = 0; i < TRIES / 2; i++) answers.push(await send(messagesUrl, bigBody(TWO_MIB), headers))
    for (let i = 0; i < 3; i++) {
      const paced = pacedBody(TWO_MIB, true)
      answers.push(await send(messagesUrl, paced.body, { ...headers, ...paced.headers }))
    }
    t.same(failures(answers, 401), [], 'no failed fetch, no other status')
    for (const answer of answers) t.match(answer, unauthorized)
  }
})

interface Upload {
  /** Everything the server sent. */
  received: string
  /** Body bytes written (taken by the client's kernel). */
  written: number
  /** The error that ended the connection for the client (EPIPE, ECONNRESET), if any. */
  error?: string
  /** Milliseconds from the request head to the close. */
  ms: number
}

const MIB = 1024 * 1024

/**
 * A client like fetch: writes the request head and `before` bytes of body, and once the answer
 * has come, `after` bytes more (chunked, if the head says so) without ever reading the answer as
 * a reason to stop; then it closes its side. With `trickleMs`, the rest comes one byte at a time.
 */
function uploadAfterTheAnswer (
  head: string,
  options: { before?: number, after: number, trickleMs?: number, port?: number }
): Promise<Upload> {
  return new Promise((resolve) => {
    const started = Date.now()
    const socket = connect({ port: options.port ?? Number(new URL(server.base).port), host: '127.0.0.1', allowHalfOpen: true })
    const chunked = /transfer-encoding: chunked/i.test(head)
    const frame = (size: number): Buffer => {
      const payload = Buffer.alloc(size, 'p')
      return chunked ? Buffer.concat([Buffer.from(`${size.toString(16)}\r\n`), payload, Buffer.from('\r\n')]) : payload
    }
    const size = 64 * 1024
    const total = (options.before ?? 0) + options.after
    let received = ''
    let written = 0
    let error: string | undefined
    let trickle: NodeJS.Timeout | undefined
    const write = (bytes: number): boolean => {
      written += bytes
      const last = written >= total && chunked ? Buffer.from('0\r\n\r\n') : Buffer.alloc(0)
      const more = socket.write(Buffer.concat([frame(bytes), last]))
      if (written >= total) socket.end()
      return more
    }
    const pump = (): void => {
      if (options.trickleMs !== undefined) {
        trickle = setInterval(() => { if (!socket.destroyed && written < total) write(1) }, options.trickleMs)
        return
      }
      // eslint-disable-next-line no-unmodified-loop-condition -- write() advances written
      while (written < total && !socket.destroyed) {
        if (!write(Math.min(size, total - written))) {
          socket.once('drain', pump)
          return
        }
      }
    }
    socket.on('data', (data: Buffer) => {
      const first = received === ''
      received += data.toString('latin1')
      if (first) pump()
    })
    socket.on('error', (failure: NodeJS.ErrnoException) => { error = failure.code ?? failure.message })
    socket.on('close', () => {
      clearInterval(trickle)
      resolve({ received, written, error, ms: Date.now() - started })
    })
    socket.write(head)
    while (written < (options.before ?? 0)) write(Math.min(size, (options.before ?? 0) - written))
  })
}

const aliceHeader = `Authorization: ${bearer(alice).authorization}\r\n`
const postHead = (headers: string, length: number): string =>
  `POST /api/messages/team HTTP/1.1\r\nHost: x\r\n${headers}Content-Length: ${length}\r\n\r\n`
const json = 'Content-Type: application/json\r\n'

t.test('a client may finish writing its body after the answer came: the server reads it, then closes cleanly', async (t) => {
  const cases: Array<[string, string, RegExp, number]> = [
    ['413: a body over the limit', postHead(json + aliceHeader, 3 * MIB), /^HTTP\/1\.1 413 [^]*\r\n\r\n\{"statusCode":413,"code":"FST_ERR_CTP_BODY_TOO_LARGE"/, 0],
    ['401: no token', postHead(json, 3 * MIB), /^HTTP\/1\.1 401 [^]*\r\n\r\n\{"statusCode":401,"code":"CHAT_UNAUTHORIZED"/, 0],
    ['415: not JSON', postHead('Content-Type: text/plain\r\n' + aliceHeader, 512 * 1024), /^HTTP\/1\.1 415 [^]*\r\n\r\n\{"statusCode":415/, 0],
    // The counts route reads its GET body itself, and refuses it past 64 KiB: 128 KiB come first.
    ['413 from the counts route, chunked', 'GET /api/messages/counts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n',
      /^HTTP\/1\.1 413 [^]*\r\n\r\n\{"statusCode":413,"code":"CHAT_BODY_TOO_LARGE"/, 128 * 1024]
  ]
  for (const [name, head, answer, before] of cases) {
    const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 3 * MIB)
    const upload = await uploadAfterTheAnswer(head, { before, after: length - before })
    t.match(upload.received, answer, `${name}: the answer`)
    t.match(upload.received, /\r\nconnection: close\r\n/i, `${name}: says the connection closes`)
    t.same({ written: upload.written, error: upload.error }, { written: length, error: undefined }, `${name}: the rest of the body written after the answer, no reset`)
  }
})

t.test('the server reads a refused body for at most 4 MiB and 5 s after the answer, then closes', async (t) => {
  const endless = await uploadAfterTheAnswer(postHead(json + aliceHeader, 256 * MIB), { after: 256 * MIB })
  t.match(endless.received, /^HTTP\/1\.1 413 /)
  t.ok(endless.written > 4 * MIB && endless.written < 64 * MIB, `256 MiB announced: cut off after 4 MiB, long before the end (${Math.round(endless.written / MIB)} MiB written, ${endless.error})`)

  const trickling = await uploadAfterTheAnswer(postHead(json + aliceHeader, 3 * MIB), { after: 3 * MIB, trickleMs: 250 })
  t.match(trickling.received, /^HTTP\/1\.1 413 /)
  t.ok(trickling.ms >= 4_500 && trickling.ms < 15_000, `a body that trickles in: cut off after about 5 s (${trickling.ms} ms, ${trickling.written} bytes, ${trickling.error})`)
})

t.test('mounted in a host app, the service\'s answers close the same way', async (t) => {
  const service = await buildService(t)
  const head = postHead(json + aliceHeader, 3 * MIB).replace('/api/messages/team', '/chat/api/messages/team')
  const upload = await uploadAfterTheAnswer(head, { after: 3 * MIB, port: Number(new URL(service.base).port) })
  t.match(upload.received, /^HTTP\/1\.1 413 [^]*\r\nconnection: close\r\n/i)
  t.same({ written: upload.written, error: upload.error }, { written: 3 * MIB, error: undefined }, 'the rest of the body written after the answer, no reset')
})
