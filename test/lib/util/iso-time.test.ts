import t from 'tap'
import { isoTime } from '../../../lib/util/iso-time.js'

t.test('isoTime writes what toISOString writes, within a second, across seconds and back in time', async (t) => {
  const times = [
    Date.UTC(2026, 10, 26, 9, 20, 31, 0), Date.UTC(2026, 10, 26, 9, 20, 31, 7), Date.UTC(2026, 10, 26, 9, 20, 31, 999),
    Date.UTC(2026, 10, 26, 9, 20, 32, 40), Date.UTC(2026, 11, 31, 23, 59, 59, 999), Date.UTC(2027, 0, 1, 0, 0, 0, 0),
    Date.UTC(2026, 10, 26, 9, 20, 31, 500), 0, -1, -1001, Date.UTC(1969, 11, 31, 23, 59, 58, 3)
  ]
  for (const time of times) t.equal(isoTime(new Date(time)), new Date(time).toISOString(), String(time))
})

t.test('isoTime throws for an invalid date, as toISOString does', async (t) => {
  t.throws(() => isoTime(new Date(Number.NaN)), RangeError)
})
