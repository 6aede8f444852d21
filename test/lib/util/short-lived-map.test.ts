import t from 'tap'
import { ShortLivedMap } from '../../../lib/util/short-lived-map.js'

/** Random but repeatable, so a failure can be replayed. */
function seededRandom (seed: number): () => number {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
    return seed / 2 ** 31
  }
}

t.test('answers as a Map does through many generations, short-lived and long-lived entries mixed', async (t) => {
  const random = seededRandom(7)
  const map = new ShortLivedMap<string, number>()
  const model = new Map<string, number>()
  const dueAt = new Map<number, string[]>()
  let mismatches = 0
  let mostGenerations = 0
  for (let step = 0; step < 30_000; step++) {
    // Most entries go within a hundred steps; a few stay for thousands, many generations older.
    const key = `k${step}`
    map.set(key, step)
    model.set(key, step)
    const lifetime = random() < 0.98 ? 1 + Math.floor(random() * 100) : 1_000 + Math.floor(random() * 5_000)
    dueAt.set(step + lifetime, [...(dueAt.get(step + lifetime) ?? []), key])
    for (const due of dueAt.get(step) ?? []) if (map.delete(due) !== model.delete(due)) mismatches++
    dueAt.delete(step)
    const probe = `k${Math.floor(random() * (step + 1))}`
    if (map.get(probe) !== model.get(probe)) mismatches++
    if (map.size !== model.size) mismatches++
    mostGenerations = Math.max(mostGenerations, map.generations)
  }
  t.equal(mismatches, 0)
  t.same(map.keys().sort(), [...model.keys()].sort())
  t.notOk(map.delete('never-set'))
  t.ok(mostGenerations <= 17, `${mostGenerations} maps at most: older ones are dropped once empty, and there are never more than the cap`)
})

t.test('entries that go soon after they come keep it at one or two maps', async (t) => {
  const map = new ShortLivedMap<number, number>()
  let mostGenerations = 0
  for (let index = 0; index < 10_000; index++) {
    map.set(index, index)
    if (index >= 50) map.delete(index - 50)
    mostGenerations = Math.max(mostGenerations, map.generations)
  }
  t.ok(mostGenerations <= 2, `${mostGenerations} maps at most`)
  const eachGoesAtOnce = new ShortLivedMap<number, number>()
  for (let index = 0; index < 10_000; index++) {
    eachGoesAtOnce.set(index, index)
    eachGoesAtOnce.delete(index)
  }
  t.equal(eachGoesAtOnce.generations, 1, 'when each goes at once, one')
})

t.test('an entry set again is replaced wherever it was, and deleting everything leaves it empty', async (t) => {
  const map = new ShortLivedMap<string, string>()
  for (let index = 0; index < 5_000; index++) map.set(`k${index}`, 'first')
  map.set('k0', 'again')
  t.equal(map.get('k0'), 'again')
  t.equal(map.size, 5_000)
  let notFound = 0
  for (let index = 0; index < 5_000; index++) if (!map.delete(`k${index}`)) notFound++
  t.equal(notFound, 0)
  t.equal(map.size, 0)
  t.same(map.keys(), [])
  t.equal(map.get('k0'), undefined)
})
