import t from 'tap'
import { RateLimiter } from '../../../lib/limits/rate-limiter.js'

function clock () {
  let now = 1_000_000
  return { now: () => now, advance: (ms: number) => { now += ms } }
}

t.test('a burst, then the sustained rate; the wait is the time until the next token', async (t) => {
  const time = clock()
  const limiter = new RateLimiter({ rate: 2, burst: 3, now: time.now })
  t.same([limiter.take('a'), limiter.take('a'), limiter.take('a')], [0, 0, 0], 'the burst')
  t.equal(limiter.take('a'), 500, 'then one token per 500 ms')
  t.equal(limiter.take('b'), 0, 'each key has its own bucket')
  time.advance(499)
  t.equal(limiter.take('a'), 1)
  time.advance(1)
  t.equal(limiter.take('a'), 0)
  time.advance(10_000)
  t.same([limiter.take('a'), limiter.take('a'), limiter.take('a'), limiter.take('a') > 0], [0, 0, 0, true], 'refills up to the burst, not beyond')
})

t.test('buckets of keys that went idle are dropped', async (t) => {
  const time = clock()
  const limiter = new RateLimiter({ rate: 20, burst: 60, now: time.now })
  for (let i = 0; i < 10_000; i++) limiter.take(`user-${i}`)
  t.equal(limiter.size, 10_000)
  time.advance(3_000)
  limiter.take('active')
  t.equal(limiter.size, 1, 'once full again (60 / 20 = 3 s), a bucket is forgotten: only the active key is kept')
})

t.test('rate 0 never limits and keeps nothing', async (t) => {
  const limiter = new RateLimiter({ rate: 0, burst: 0 })
  for (let i = 0; i < 1_000; i++) t.equal(limiter.take('a'), 0)
  t.equal(limiter.size, 0)
})
