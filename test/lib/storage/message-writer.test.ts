import t from 'tap'
import { MessageWriter, type MessageWriterOptions } from '../../../lib/storage/message-writer.js'
import type { MessageDocument } from '../../../lib/messages/message.js'
import { testDocument } from '../../messages.js'

const silent = { warn () {}, error () {} }
const document = (content: string) => testDocument('c', 'u', content)

function writer (overrides: Partial<MessageWriterOptions> & Pick<MessageWriterOptions, 'insert'>): MessageWriter {
  return new MessageWriter({
    retryAttempts: 3,
    batchSize: 10,
    batchWindowMs: 5,
    maxQueue: 1000,
    retryMinDelayMs: 1,
    retryMaxDelayMs: 5,
    log: silent,
    ...overrides
  })
}

t.test('messages are written in batches of at most batchSize, in order', async (t) => {
  const batches: MessageDocument[][] = []
  const queue = writer({ insert: async (batch) => { batches.push(batch) } })
  const documents = Array.from({ length: 25 }, (_, i) => document(`m${i}`))
  for (const doc of documents) t.ok(queue.enqueue(doc))
  await queue.drained()
  t.same(batches.map((batch) => batch.length), [10, 10, 5])
  t.same(batches.flat(), documents)
  t.equal(queue.depth, 0)
})

t.test('a failing batch is retried until it succeeds, and stays counted until then', async (t) => {
  let failures = 2
  const stored: MessageDocument[] = []
  const queue = writer({
    insert: async (batch) => {
      if (failures-- > 0) throw new Error('database down')
      stored.push(...batch)
    }
  })
  queue.enqueue(document('a'))
  queue.enqueue(document('b'))
  t.equal(queue.depth, 2)
  await queue.drained()
  t.same(stored.map((doc) => doc.content), ['a', 'b'])
})

t.test('when retries run out the batch stays queued and is tried again later', async (t) => {
  let attempts = 0
  const stored: MessageDocument[] = []
  const queue = writer({
    retryAttempts: 1,
    insert: async (batch) => {
      attempts++
      if (attempts <= 5) throw new Error('database down')
      stored.push(...batch)
    }
  })
  queue.enqueue(document('kept'))
  await queue.drained()
  t.equal(attempts, 6)
  t.same(stored.map((doc) => doc.content), ['kept'])
})

t.test('a full queue refuses new messages without dropping accepted ones', async (t) => {
  let release!: () => void
  const blocked = new Promise<void>((resolve) => { release = resolve })
  const stored: MessageDocument[] = []
  const queue = writer({ maxQueue: 5, batchSize: 2, insert: async (batch) => { await blocked; stored.push(...batch) } })
  const results = Array.from({ length: 8 }, (_, i) => queue.enqueue(document(`m${i}`)))
  t.same(results, [true, true, true, true, true, false, false, false])
  t.equal(queue.depth, 5)
  t.ok(queue.full)
  release()
  await queue.drained()
  t.same(stored.map((doc) => doc.content), ['m0', 'm1', 'm2', 'm3', 'm4'])
  t.ok(queue.enqueue(document('later')), 'accepts again once there is room')
})

t.test('close refuses new messages, flushes, and returns what the deadline left unwritten', async (t) => {
  const stored: MessageDocument[] = []
  const healthy = writer({ insert: async (batch) => { stored.push(...batch) } })
  healthy.enqueue(document('a'))
  t.same(await healthy.close(1_000), [])
  t.same(stored.map((doc) => doc.content), ['a'])
  t.notOk(healthy.enqueue(document('b')))

  const down = writer({ retryAttempts: 100, insert: async () => { throw new Error('database down') } })
  down.enqueue(document('x'))
  down.enqueue(document('y'))
  const started = Date.now()
  const left = await down.close(100)
  t.same(left.map((doc) => doc.content), ['x', 'y'])
  t.ok(Date.now() - started < 2_000, 'close honours its deadline')
})

t.test('under a steady trickle, what arrives during a write waits for the window instead of going out alone', async (t) => {
  const batches: number[] = []
  const queue = writer({
    batchSize: 100,
    batchWindowMs: 20,
    insert: async (batch) => {
      batches.push(batch.length)
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
  })
  for (let i = 0; i < 60; i++) {
    queue.enqueue(document(`m${i}`))
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  await queue.drained()
  t.equal(batches.reduce((sum, size) => sum + size, 0), 60, 'every message written')
  // About one write per window; writing whatever came in during the last write would take 20 or more.
  t.ok(batches.length <= 10, `${batches.length} writes for 60 messages over about ${60} ms: ${batches.join(', ')}`)
})

t.test('a message after a quiet spell is written at once; the next batch waits for the rest of the window', async (t) => {
  const starts: number[] = []
  const queue = writer({
    batchWindowMs: 300,
    insert: async () => { starts.push(performance.now()) }
  })
  const enqueuedAt = performance.now()
  queue.enqueue(document('alone'))
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(starts.length, 1, 'written before the window is over')
  t.ok(starts[0]! - enqueuedAt < 100, `written ${Math.round(starts[0]! - enqueuedAt)} ms after it was queued`)
  queue.enqueue(document('soon after'))
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(starts.length, 1, 'the second waits: batches start at least one window apart')
  await new Promise((resolve) => setTimeout(resolve, 250))
  t.equal(starts.length, 2)
  t.ok(starts[1]! - starts[0]! >= 295, `${Math.round(starts[1]! - starts[0]!)} ms between the two batches`)
})

t.test('what arrived during a write that outlasted the window is written at once after it', async (t) => {
  const starts: number[] = []
  const ends: number[] = []
  const queue = writer({
    batchWindowMs: 200,
    insert: async () => {
      starts.push(Date.now())
      await new Promise((resolve) => setTimeout(resolve, 300))
      ends.push(Date.now())
    }
  })
  queue.enqueue(document('first'))
  await new Promise((resolve) => setTimeout(resolve, 250))
  queue.enqueue(document('during the write'))
  // Not drained(): it writes what is queued at once, whatever the window.
  await new Promise((resolve) => setTimeout(resolve, 800))
  t.equal(starts.length, 2)
  // It has waited longer than the window already (since the first batch was taken); another 200 ms would be wrong.
  t.ok(starts[1]! - ends[0]! < 100, `written ${starts[1]! - ends[0]!} ms after the first write ended`)
})
