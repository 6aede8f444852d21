import t from 'tap'
import { within } from '../../../lib/util/within.js'

const after = <T>(ms: number, value: T): Promise<T> => new Promise((resolve) => setTimeout(resolve, ms, value))

t.test('the value when it comes in time, the fallback when it does not, and a rejection as it is', async (t) => {
  t.equal(await within(after(5, 'value'), 200, 'fallback'), 'value')
  t.equal(await within(after(200, 'value'), 20, 'fallback'), 'fallback')
  await t.rejects(within(Promise.reject(new Error('failed')), 200, 'fallback'), /failed/)
})
