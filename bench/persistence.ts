// Persistence throughput against an external jongodb (or BENCH_MONGO_URI): the batched
// writer at several batch sizes versus one insert per message, in the same run.
//   npm run bench:persistence -- [messages=3000]
import { MongoClient, type Collection } from 'mongodb'
import { startEmbeddedMongo } from '../lib/storage/embedded-mongo.js'
import { MessageStore } from '../lib/storage/message-store.js'
import { MessageWriter } from '../lib/storage/message-writer.js'
import { createDraft, toDocument, withSeq, type MessageDocument } from '../lib/messages/message.js'

const count = Number(process.argv[2] ?? 3000)
const silent = { warn () {}, error () {} }

async function perMessage (collection: Collection<MessageDocument>, documents: MessageDocument[]): Promise<void> {
  const store = new MessageStore(collection)
  for (const document of documents) await store.insertBatch([document])
}

async function batched (collection: Collection<MessageDocument>, documents: MessageDocument[], batchSize: number): Promise<void> {
  const store = new MessageStore(collection)
  const writer = new MessageWriter({
    insert: (batch) => store.insertBatch(batch),
    retryAttempts: 5,
    batchSize,
    batchWindowMs: 5,
    maxQueue: documents.length,
    retryMinDelayMs: 100,
    retryMaxDelayMs: 1000,
    log: silent
  })
  for (const document of documents) writer.enqueue(document)
  await writer.drained()
}

async function measure (name: string, collection: Collection<MessageDocument>, run: (documents: MessageDocument[]) => Promise<void>) {
  await collection.deleteMany({})
  const documents = Array.from({ length: count }, (_, i) => toDocument(withSeq(createDraft(`channel-${i % 100}`, `user-${i % 1000}`, `message ${i}`), i + 1)))
  const started = process.hrtime.bigint()
  await run(documents)
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const stored = await collection.countDocuments()
  if (stored !== count) throw new Error(`${name}: stored ${stored} of ${count}`)
  return { name, messages: count, seconds: Number(seconds.toFixed(3)), perSecond: Math.round(count / seconds) }
}

const embedded = process.env.BENCH_MONGO_URI ? undefined : await startEmbeddedMongo()
const client = new MongoClient(process.env.BENCH_MONGO_URI ?? embedded!.uri)
try {
  const collection = client.db('chat_bench').collection<MessageDocument>('persistence')
  await new MessageStore(collection).ensureIndexes()
  const results = []
  for (let round = 0; round < 3; round++) {
    results.push(await measure('one insert per message', collection, (documents) => perMessage(collection, documents)))
    for (const size of [10, 100, 500, 1000]) {
      results.push(await measure(`batched, batch size ${size}`, collection, (documents) => batched(collection, documents, size)))
    }
  }
  const medians = new Map<string, number[]>()
  for (const result of results) medians.set(result.name, [...(medians.get(result.name) ?? []), result.perSecond])
  const baseline = median(medians.get('one insert per message')!)
  console.log(`messages per run: ${count}, 3 rounds, medians; store: ${process.env.BENCH_MONGO_URI ? 'BENCH_MONGO_URI' : 'jongodb (embedded)'}`)
  console.log('writer                         msgs/s   vs one-per-message')
  for (const [name, values] of medians) {
    console.log(`${name.padEnd(30)} ${String(median(values)).padStart(7)}   ${(median(values) / baseline).toFixed(1)}x`)
  }
} finally {
  await client.close()
  await embedded?.stop()
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}
