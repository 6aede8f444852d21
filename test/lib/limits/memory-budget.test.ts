import t from 'tap'
import { MemoryBudget } from '../../../lib/limits/memory-budget.js'

t.test('reservations wait for released bytes, first come first served, and give up after their wait', async (t) => {
  const budget = new MemoryBudget(100)
  t.equal(await budget.reserve(60, 0), true)
  const large = budget.reserve(80, 1_000)
  const small = budget.reserve(10, 1_000)
  t.equal(budget.free, 40, 'waiting reservations hold nothing yet')
  budget.release(60)
  t.equal(await large, true, 'the first waiter is served first')
  t.equal(await small, true)
  t.equal(budget.free, 10)
  t.equal(await budget.reserve(50, 20), false, 'not within its wait')
  t.equal(budget.free, 10, 'a reservation that gave up holds nothing')
  budget.release(90)
  t.equal(budget.free, 100)
  t.equal(await budget.reserve(1_000, 0), true, 'more than the whole budget reserves the whole budget')
  t.equal(budget.free, 0)
})
