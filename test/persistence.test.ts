import t from 'tap'
import { bearer, buildService, Client, eventually, post, stoppableMongo } from './helper.js'

const member = { id: 'alice', groups: ['team'] }

t.test('messages accepted while MongoDB is down are broadcast at once and stored exactly once when it is back', { skip: process.env.TEST_MONGO_URI ? 'needs a database it can stop' : false }, async (t) => {
  const mongo = await stoppableMongo(t)
  const service = await buildService(t, { retryAttempts: 2 }, { uri: mongo.uri, db: 'chat_persistence' })
  const listener = await Client.open(`${service.ws}?channel=team`, { headers: bearer(member) })

  await mongo.stop()
  const accepted = []
  for (let i = 0; i < 5; i++) {
    const response = await post(`${service.base}/api/messages/team`, { content: `while down ${i}` }, bearer(member))
    t.equal(response.status, 201)
    accepted.push(response.body.id)
  }
  const live = await listener.receive(5)
  t.same(live.map((frame) => frame.id), accepted, 'broadcast did not wait for the database')

  await new Promise((resolve) => setTimeout(resolve, 1_000))
  await mongo.start()
  const stored = await eventually(
    () => service.collection.find({}).toArray(),
    (docs) => docs.length >= accepted.length,
    30_000
  )
  t.same(stored.map((doc) => doc._id.toHexString()).sort(), [...accepted].sort(), 'each accepted message stored once')
  await listener.close()
})
