import t from 'tap'
import { clientIdLookup } from '../../../lib/messages/client-id-lookup.js'
import type { ChatMessage } from '../../../lib/messages/message.js'
import { clientKey } from '../../../lib/storage/message-store.js'

const stored: ChatMessage = { id: '6566f0c2a1b2c3d4e5f60718', channel: 'general', sender: 'alice', content: 'hi', createdAt: new Date(), seq: 7, clientId: 'c-1' }

function lookupWith (find: Parameters<typeof clientIdLookup>[0]['find'], timeoutMs = 1_000) {
  const warnings: string[] = []
  const lookUp = clientIdLookup({ find, timeoutMs, minIntervalMs: 0, log: { warn: (_object, message) => { warnings.push(message) } } })
  return { lookUp, warnings }
}

t.test('finds the stored message of a clientId, the lookups of one turn in one query', async (t) => {
  const queries: number[] = []
  const { lookUp } = lookupWith(async (pairs) => {
    queries.push(pairs.length)
    return new Map([[clientKey('alice', 'c-1'), stored]])
  })
  const [found, missing] = await Promise.all([lookUp('alice', 'c-1'), lookUp('bob', 'c-1')])
  t.equal(found, stored)
  t.equal(missing, undefined)
  t.same(queries, [2])
})

t.test('a query that fails finds nothing, and an outage logs one warning, not one per message', async (t) => {
  const { lookUp, warnings } = lookupWith(async () => { throw new Error('database unreachable') })
  t.equal(await lookUp('alice', 'c-1'), undefined)
  t.same(await Promise.all([lookUp('alice', 'c-2'), lookUp('bob', 'c-3')]), [undefined, undefined])
  t.match(warnings, [/looking up clientIds failed/])
  t.equal(warnings.length, 1)
})

t.test('a query that does not answer in time finds nothing', async (t) => {
  const { lookUp } = lookupWith(() => new Promise(() => {}), 30)
  const started = Date.now()
  t.equal(await lookUp('alice', 'c-1'), undefined)
  t.ok(Date.now() - started >= 25)
})
