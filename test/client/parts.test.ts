import t from 'tap'
import { reconnectDelay } from '../../client/backoff.js'
import { readFrame } from '../../client/frames.js'
import { RecentMessages } from '../../client/recent-messages.js'

t.test('backoff doubles from min up to max, with jitter between half and all of it', async (t) => {
  t.same([0, 1, 2, 3, 10, 2000].map((attempt) => reconnectDelay(attempt, 500, 10_000, () => 1)), [500, 1000, 2000, 4000, 10_000, 10_000])
  t.same([0, 1, 10].map((attempt) => reconnectDelay(attempt, 500, 10_000, () => 0)), [250, 500, 5000])
})

t.test('remembered messages are bounded: the oldest is forgotten first', async (t) => {
  const recent = new RecentMessages<{ id: string }>(2)
  for (const id of ['a', 'b', 'c']) recent.add({ id })
  t.notOk(recent.has('a'))
  t.ok(recent.has('b') && recent.has('c'))
  t.same(recent.get('c'), { id: 'c' })
})

t.test('frames: messages, acks and errors are told apart; anything else is unknown', async (t) => {
  const message = { id: 'a'.repeat(24), channel: 'team', sender: 'ann', content: 'hi', createdAt: '2026-01-01T00:00:00.000Z' }
  t.same(readFrame(JSON.stringify(message)), { kind: 'message', message })
  t.same(readFrame('{"ack":{"clientId":"c1","id":"m1"}}'), { kind: 'ack', clientId: 'c1', id: 'm1' })
  const error = { statusCode: 400, code: 'CHAT_INVALID_MESSAGE', error: 'Bad Request', message: 'bad', clientId: 'c1' }
  t.same(readFrame(JSON.stringify({ error })), { kind: 'error', error })
  for (const data of ['not json', 'null', '[]', '{"ack":{}}', '{"id":"x"}', 42]) t.same(readFrame(data), { kind: 'unknown' }, String(data))
})
