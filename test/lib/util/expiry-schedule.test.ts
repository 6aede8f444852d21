import t from 'tap'
import { ExpirySchedule } from '../../../lib/util/expiry-schedule.js'
import { eventually } from '../../helper.js'

t.test('items expire once their second is reached, not before', async (t) => {
  const expired: string[] = []
  const schedule = new ExpirySchedule<string>((item) => expired.push(item))
  t.teardown(() => schedule.clear())
  schedule.add('a', 100)
  schedule.add('b', 100)
  schedule.add('c', 101)
  schedule.expireDue(99_999)
  t.same(expired, [])
  schedule.expireDue(100_000)
  t.same(expired.sort(), ['a', 'b'])
  t.equal(schedule.size, 1)
  schedule.expireDue(200_000)
  t.same(expired.sort(), ['a', 'b', 'c'])
  t.equal(schedule.size, 0)
  schedule.expireDue(300_000)
  t.equal(expired.length, 3, 'each item expires once')
})

t.test('an item removed first leaves nothing behind and never expires', async (t) => {
  const expired: string[] = []
  const schedule = new ExpirySchedule<string>((item) => expired.push(item))
  t.teardown(() => schedule.clear())
  schedule.add('a', 100)
  schedule.add('b', 100)
  schedule.remove('a', 100)
  schedule.remove('a', 100)
  schedule.remove('b', 999)
  t.equal(schedule.size, 1, 'removing with the wrong second or twice is harmless')
  schedule.remove('b', 100)
  t.equal(schedule.size, 0)
  schedule.expireDue(1_000_000)
  t.same(expired, [])
})

t.test('the shared timer expires items on the real clock', async (t) => {
  const expired: string[] = []
  const schedule = new ExpirySchedule<string>((item) => expired.push(item))
  t.teardown(() => schedule.clear())
  const now = Math.floor(Date.now() / 1000)
  schedule.add('soon', now + 1)
  schedule.add('later', now + 3600)
  await eventually(() => expired, (items) => items.length === 1, 5_000)
  t.same(expired, ['soon'])
  t.equal(schedule.size, 1)
})
