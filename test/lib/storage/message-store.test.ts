import t, { type Test } from 'tap'
import { MongoClient, WriteConcern, type Collection, type Document } from 'mongodb'
import { MessageStore } from '../../../lib/storage/message-store.js'
import { toDocument, type MessageDocument } from '../../../lib/messages/message.js'
import { startMongo } from '../../helper.js'
import { testDocument, testMessage } from '../../messages.js'

async function storeFor (t: Test) {
  const mongo = await startMongo(t)
  const client = new MongoClient(mongo.uri)
  t.teardown(() => client.close())
  const collection = client.db(mongo.db).collection<MessageDocument>('messages')
  const store = new MessageStore(collection)
  await store.ensureIndexes()
  return { collection, store }
}

t.test('insertBatch stores each message exactly once, however often it is repeated', async (t) => {
  const { collection, store } = await storeFor(t)
  const batch = Array.from({ length: 20 }, (_, i) => testDocument('c', 'u', `m${i}`))
  await store.insertBatch(batch.slice(0, 7))
  // A retry after a write that partly landed: seven of these are already stored.
  await store.insertBatch(batch)
  await store.insertBatch(batch)
  t.equal(await collection.countDocuments(), 20)
  const ids = (await collection.find().toArray()).map((doc) => doc._id.toHexString())
  t.equal(new Set(ids).size, 20)

  const names = (await collection.indexes()).map((index) => index.name)
  t.ok(names.includes('channel_seq'))
  t.ok(names.includes('channel_sender_seq'))
  t.ok(names.includes('sender_client_id_unique'))
})

t.test('a sender\'s clientId names one message: a later document with it is superseded by the stored one', async (t) => {
  const { collection, store } = await storeFor(t)
  const first = testDocument('c', 'alice', 'hello', 'c-1')
  t.same(await store.insertBatch([first, testDocument('c', 'alice', 'no id')]), new Map())
  const resend = testDocument('c', 'alice', 'hello', 'c-1')
  const fresh = testDocument('c', 'alice', 'next', 'c-2')
  const otherSender = testDocument('c', 'bob', 'hello', 'c-1')
  const superseded = await store.insertBatch([resend, fresh, otherSender])
  t.same([...superseded.keys()], [resend._id.toHexString()])
  t.equal(superseded.get(resend._id.toHexString())!._id.toHexString(), first._id.toHexString())
  t.equal(await collection.countDocuments(), 4, 'the resend is not stored; the others are')

  const twice = [testDocument('c', 'carol', 'a', 'same'), testDocument('c', 'carol', 'b', 'same')]
  const inOneBatch = await store.insertBatch(twice)
  t.equal(inOneBatch.get(twice[1]!._id.toHexString())?._id.toHexString(), twice[0]!._id.toHexString(), 'twice in one batch: the first stands')
  t.equal(await collection.countDocuments({ sender: 'carol' }), 1)

  t.same((await store.findByClientId('alice', 'c-1'))?.id, first._id.toHexString())
  t.equal(await store.findByClientId('alice', 'missing'), undefined)
})

t.test('a batch larger than MongoDB takes in one command is stored whole, in several', async (t) => {
  const { collection, store } = await storeFor(t)
  // 19 MiB of content: one command would be over MongoDB's 16 MiB, and over the 17 MiB the driver can serialize.
  const batch = Array.from({ length: 300 }, (_, i) => testDocument('c', 'u', `${i}`.padEnd(64 * 1024, 'é')))
  t.same(await store.insertBatch(batch), new Map())
  t.equal(await collection.countDocuments(), 300)
  t.same(await store.insertBatch(batch), new Map(), 'and repeated, nothing is stored twice')
  t.equal(await collection.countDocuments(), 300)
})

/**
 * A collection answering the insert command as real MongoDB does (jongodb answers a duplicate
 * key with a failed command instead): the rest of the batch stored, the refused documents named
 * in `writeErrors`, and a write concern it could not meet reported beside an ok.
 */
function mongoLikeCollection (reply: Document, stored: MessageDocument[]) {
  const commands: Document[] = []
  const lookups: unknown[] = []
  const collection = {
    collectionName: 'messages',
    writeConcern: new WriteConcern('majority', 5000),
    db: {
      command: async (command: Document) => {
        commands.push(command)
        return commands.length === 1 ? reply : { ok: 1, n: command.documents.length }
      }
    },
    find: (filter: unknown) => ({ toArray: async () => { lookups.push(filter); return stored } })
  }
  return { commands, lookups, store: new MessageStore(collection as unknown as Collection<MessageDocument>) }
}

t.test('with real MongoDB\'s answer to a duplicate key, the documents it names are looked up and the rest are not sent again', async (t) => {
  const earlier = testDocument('c', 'u', 'stored by an earlier attempt')
  const resend = testDocument('c', 'u', 'resent', 'c-1')
  const first = testDocument('c', 'u', 'first send', 'c-1')
  const fresh = testDocument('c', 'u', 'new')
  const { commands, store } = mongoLikeCollection(
    { ok: 1, n: 1, writeErrors: [{ index: 0, code: 11000, errmsg: 'E11000 _id' }, { index: 1, code: 11000, errmsg: 'E11000 clientId' }] },
    [earlier, first, fresh])
  const superseded = await store.insertBatch([earlier, resend, fresh])
  t.same([...superseded.keys()], [resend._id.toHexString()], 'the resend stands for the first send')
  t.equal(commands.length, 1, 'everything is stored: no second command')
  t.same(commands[0]!.writeConcern, { w: 'majority', wtimeout: 5000 }, 'the collection\'s write concern goes with the command')
})

t.test('a document refused for anything but a duplicate key, or a write concern not met, fails the batch (the writer retries it)', async (t) => {
  const batch = [testDocument('c', 'u', 'a'), testDocument('c', 'u', 'b')]
  const invalid = mongoLikeCollection({ ok: 1, n: 1, writeErrors: [{ index: 1, code: 121, errmsg: 'Document failed validation' }] }, [])
  await t.rejects(invalid.store.insertBatch(batch), /did not store 1 of the documents: Document failed validation/)
  t.equal(invalid.lookups.length, 0, 'not taken for a resend: nothing is looked up')
  const unreplicated = mongoLikeCollection({ ok: 1, n: 2, writeConcernError: { code: 64, errmsg: 'waiting for replication timed out' } }, [])
  await t.rejects(unreplicated.store.insertBatch(batch), /not with the write concern asked: waiting for replication timed out/)
})

t.test('history is newest first by seq, scoped and paged; after reads forwards', async (t) => {
  const { store } = await storeFor(t)
  const messages = ['a', 'b', 'c', 'd'].map((content, i) => testMessage(i === 3 ? 'other' : 'c', i % 2 === 0 ? 'x' : 'y', content))
  // Stored out of order: order comes from seq, not from the ids or the order of writes.
  await store.insertBatch([...messages].reverse().map((message) => toDocument(message)))
  t.same((await store.history({ scope: { channel: 'c' }, limit: 10 })).map((m) => m.content), ['c', 'b', 'a'])
  t.same((await store.history({ scope: { channel: 'c', sender: 'x' }, limit: 10 })).map((m) => m.content), ['c', 'a'])
  t.same((await store.history({ scope: { channel: 'c' }, limit: 10, beforeSeq: messages[2]!.seq })).map((m) => m.content), ['b', 'a'])
  t.same((await store.history({ scope: { channel: 'c' }, limit: 1 })).map((m) => m.content), ['c'])
  t.same((await store.after({ channel: 'c' }, messages[0]!.seq, 10)).map((m) => m.content), ['b', 'c'])
  t.same((await store.after({ channel: 'c' }, 0, 10, messages[1]!.seq)).map((m) => m.content), ['a', 'b'], 'up to a seq')
  const [first] = await store.history({ scope: { channel: 'c' }, limit: 1 })
  t.same(first, messages[2], 'a message reads back as it was created')
})
