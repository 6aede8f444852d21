import t from 'tap'
import { catchUp, firstGap, type Gap } from '../../../lib/delivery/catch-up.js'
import { MemoryBudget } from '../../../lib/limits/memory-budget.js'
import type { ChatMessage } from '../../../lib/messages/message.js'

const message = (seq: number) => ({ id: `id-${seq}`, seq }) as ChatMessage

/** A reader over a list of readable seqs, and a subscriber that records what it was sent. */
function setup (readable: number[], pageSize = 3) {
  const sent: number[] = []
  let liveFrom: number | undefined
  const reads: number[] = []
  const subscriber = {
    sendMissed: (missed: readonly object[]) => { sent.push(...missed.map((m) => (m as ChatMessage).seq)); return missed.length },
    taken: async () => true,
    goLive: (covered: number) => { liveFrom = covered }
  }
  const reader = {
    seqOf: async (_channel: string, id: string) => readable.includes(Number(id.slice(3))) ? Number(id.slice(3)) : undefined,
    missed: async (_channel: string, after: number, limit: number, until = Infinity) => {
      reads.push(after)
      return readable.filter((seq) => seq > after && seq <= until).sort((a, b) => a - b).slice(0, limit).map(message)
    }
  }
  const memory = { budget: new MemoryBudget(1_000), pageBytes: pageSize, waitMs: 0 }
  return { sent, reads, subscriber, reader, liveFrom: () => liveFrom, pageSize, memory, onBusy: () => { throw new Error('the budget is never short here') } }
}

t.test('sends every message after since up to the frontier, page by page, then goes live after the last one', async (t) => {
  const s = setup([10, 11, 12, 13, 14, 15, 16, 17])
  const gaps: Gap[] = []
  t.equal(await catchUp({ ...s, channel: 'c', since: 'id-11', frontier: { seq: 16, epoch: 10 }, settleMs: 0, onUnknownSince: t.fail, onGap: (gap) => gaps.push(gap) }), true)
  t.same(s.sent, [12, 13, 14, 15, 16], 'not 17: it comes live')
  t.same(s.reads, [11, 14], 'in pages')
  t.equal(s.liveFrom(), 16)
  t.same(gaps, [])
})

t.test('a seq of the epoch that cannot be read is waited for, then reported as a gap', async (t) => {
  const s = setup([10, 11, 13, 14])
  const gaps: Gap[] = []
  const started = Date.now()
  await catchUp({ ...s, channel: 'c', since: 'id-10', frontier: { seq: 15, epoch: 10 }, settleMs: 200, onUnknownSince: t.fail, onGap: (gap) => gaps.push(gap) })
  t.ok(Date.now() - started >= 200, 'it waited for the missing ones')
  t.same(gaps, [{ from: 12, to: 12 }, { from: 15, to: 15 }])
  t.same(s.sent, [11, 13, 14])
  t.equal(s.liveFrom(), 14, 'a missing seq that arrives live still gets through')
})

t.test('seqs before the frontier\'s epoch are not expected to be contiguous', async (t) => {
  t.equal(firstGap([message(5), message(9), message(100)], 1, 100, 100, 10), undefined)
  t.same(firstGap([message(100), message(102)], 1, 102, 100, 10), { from: 101, to: 101 })
  t.same(firstGap([], 99, 101, 100, 10), { from: 100, to: 101 })
  t.equal(firstGap([message(1), message(2)], 0, 50, 1, 2), undefined, 'a full page says nothing about what follows it')
})

t.test('an unknown since is reported, and the client goes live', async (t) => {
  const s = setup([1, 2])
  let unknown = false
  await catchUp({ ...s, channel: 'c', since: 'id-7', frontier: { seq: 2, epoch: 1 }, settleMs: 0, onUnknownSince: () => { unknown = true }, onGap: t.fail })
  t.ok(unknown)
  t.same(s.sent, [])
  t.equal(s.liveFrom(), 0)
})

t.test('a page is read only with its share of the memory budget, which it holds until the client has taken it; busy when none comes', async (t) => {
  const budget = new MemoryBudget(10)
  const s = setup([1, 2, 3, 4, 5, 6, 7], 3)
  // A client that takes what it was sent only when told to.
  let untaken = false
  let take = (): void => {}
  const subscriber = {
    ...s.subscriber,
    sendMissed: (missed: readonly object[]) => { untaken = true; return s.subscriber.sendMissed(missed) },
    taken: () => untaken ? new Promise<boolean>((resolve) => { take = () => { untaken = false; resolve(true) } }) : Promise.resolve(true)
  }
  let busy = 0
  const tick = () => new Promise((resolve) => setTimeout(resolve, 20))
  const common = { channel: 'c', since: 'id-1', settleMs: 0, onUnknownSince: t.fail, onGap: t.fail, onBusy: () => busy++ }
  const first = catchUp({ ...s, ...common, subscriber, memory: { budget, pageBytes: 8, waitMs: 5_000 }, frontier: { seq: 7, epoch: 1 } })
  await tick()
  t.same(s.reads, [1], 'one page read')
  t.equal(budget.free, 7, 'its worst case (8) was reserved to read it; what was sent (3) stays held until the client takes it')
  const other = setup([1, 2, 3, 4], 3)
  t.equal(await catchUp({ ...other, ...common, memory: { budget, pageBytes: 8, waitMs: 10 }, frontier: { seq: 4, epoch: 1 } }), true)
  t.equal(busy, 1, 'a catch-up that cannot get its share in time is told so')
  t.same(other.sent, [], 'and sends nothing it could not reserve for')
  t.equal(other.liveFrom(), 1, 'but goes live')
  take()
  await tick()
  t.same(s.reads, [1, 4], 'the next page is read once the first was taken')
  t.equal(budget.free, 7)
  take()
  t.equal(await first, true)
  await tick()
  t.equal(budget.free, 10, 'everything is released once taken')
  t.same(s.sent, [2, 3, 4, 5, 6, 7])
})
