import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { BatchedLookup } from '../../../lib/util/batched-lookup.js'

type Options = ConstructorParameters<typeof BatchedLookup<string, string>>[2]

/** A lookup that records each call's keys and answers every key with its upper-case form. */
function recordingLookup (options?: Options): { lookup: BatchedLookup<string, string>, calls: string[][] } {
  const calls: string[][] = []
  const lookup = new BatchedLookup<string, string>(async (keys) => {
    calls.push(keys)
    return new Map(keys.map((key) => [key, key.toUpperCase()]))
  }, (key) => key, options)
  return { lookup, calls }
}

t.test('lookups of one turn go in one call, and each gets its own answer', async (t) => {
  const { lookup, calls } = recordingLookup()
  t.same(await Promise.all([lookup.find('a'), lookup.find('b'), lookup.find('c')]), ['A', 'B', 'C'])
  t.same(calls, [['a', 'b', 'c']])
})

t.test('with minIntervalMs, calls start that far apart and gather what was asked meanwhile; after a quiet spell a lookup goes at once', async (t) => {
  const { lookup, calls } = recordingLookup({ minIntervalMs: 300 })
  const startedAt = performance.now()
  t.equal(await lookup.find('first'), 'FIRST')
  t.ok(performance.now() - startedAt < 150, 'the first lookup does not wait for an interval')
  const soon = [lookup.find('b')]
  await sleep(10)
  soon.push(lookup.find('c'))
  t.same(await Promise.all(soon), ['B', 'C'])
  t.ok(performance.now() - startedAt >= 295, 'the second call waited for the rest of the interval')
  t.same(calls, [['first'], ['b', 'c']])
  await sleep(350)
  const quietAt = performance.now()
  t.equal(await lookup.find('later'), 'LATER')
  t.ok(performance.now() - quietAt < 150, 'after a quiet spell a lookup goes at the end of the turn')
  t.equal(calls.length, 3)
})

t.test('maxBatch splits a turn into several calls; a failed call fails only its own lookups', async (t) => {
  const calls: string[][] = []
  const lookup = new BatchedLookup<string, string>(async (keys) => {
    calls.push(keys)
    if (keys.includes('bad')) throw new Error('lookup failed')
    return new Map(keys.map((key) => [key, key]))
  }, (key) => key, { maxBatch: 2 })
  const results = await Promise.allSettled(['a', 'b', 'bad', 'c'].map((key) => lookup.find(key)))
  t.same(calls, [['a', 'b'], ['bad', 'c']])
  t.same(results.map((result) => result.status), ['fulfilled', 'fulfilled', 'rejected', 'rejected'])
})
