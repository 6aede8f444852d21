import t from 'tap'
import { MongoClient } from 'mongodb'
import { MessageStore } from '../../lib/message-store.js'
import { createMessage, toDocument, type MessageDocument } from '../../lib/message.js'
import { startMongo } from '../helper.js'

t.test('insertBatch stores each message exactly once, however often it is repeated', async (t) => {
  const mongo = await startMongo(t)
  const client = new MongoClient(mongo.uri)
  t.teardown(() => client.close())
  const collection = client.db(mongo.db).collection<MessageDocument>('messages')
  const store = new MessageStore(collection)
  await store.ensureIndexes()

  const batch = Array.from({ length: 20 }, (_, i) => toDocument(createMessage('c', 'u', `m${i}`)))
  await store.insertBatch(batch.slice(0, 7))
  // A retry after a write that partly landed: seven of these are already stored.
  await store.insertBatch(batch)
  await store.insertBatch(batch)
  t.equal(await collection.countDocuments(), 20)
  const ids = (await collection.find().toArray()).map((doc) => doc._id.toHexString())
  t.equal(new Set(ids).size, 20)

  const names = (await collection.indexes()).map((index) => index.name)
  t.ok(names.includes('channel_newest_first'))
  t.ok(names.includes('channel_sender_newest_first'))
})

t.test('history is newest first, scoped and paged by id', async (t) => {
  const mongo = await startMongo(t)
  const client = new MongoClient(mongo.uri)
  t.teardown(() => client.close())
  const store = new MessageStore(client.db(mongo.db).collection<MessageDocument>('messages'))
  const messages = ['a', 'b', 'c', 'd'].map((content, i) => createMessage(i === 3 ? 'other' : 'c', i % 2 === 0 ? 'x' : 'y', content))
  await store.insertBatch(messages.map(toDocument))
  t.same((await store.history({ scope: { channel: 'c' }, limit: 10 })).map((m) => m.content), ['c', 'b', 'a'])
  t.same((await store.history({ scope: { channel: 'c', sender: 'x' }, limit: 10 })).map((m) => m.content), ['c', 'a'])
  t.same((await store.history({ scope: { channel: 'c' }, limit: 10, before: messages[2]!.id })).map((m) => m.content), ['b', 'a'])
  t.same((await store.history({ scope: { channel: 'c' }, limit: 1 })).map((m) => m.content), ['c'])
  const [first] = await store.history({ scope: { channel: 'c' }, limit: 1 })
  t.same(first, messages[2], 'a message reads back as it was created')
})
