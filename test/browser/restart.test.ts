// kill -9 of the standalone service under an open chat page in real Chromium: the page comes back
// by itself and shows what was sent while it was away, once and in order.
import t from 'tap'
import { join } from 'node:path'
import { MongoClient } from 'mongodb'
import { launchBrowser, openChatPage, requireBuiltClient, sendFromPage, shownMessages } from '../browser.js'
import { bearer, eventually, freePort, mongoProxy, post, sleep, startMongo, startServerProcess, token } from '../helper.js'

requireBuiltClient()

t.test('after a kill -9 and a restart, the page reconnects and shows the messages sent meanwhile exactly once, in order', async (t) => {
  const browser = await launchBrowser(t)
  // The database is its own process, and outlives the service.
  const mongo = await startMongo(t)
  const env = { MONGO_URI: mongo.uri, MONGO_DB: mongo.db, PORT: String(await freePort()), DEAD_LETTER_FILE: join(t.testdir(), 'dead-letter.jsonl') }
  const first = await startServerProcess(t, env)
  // The page reaches the service through a TCP relay that the test closes while the service is
  // down, so that what is sent meanwhile can only reach the page through its resume.
  const relay = await mongoProxy(t, first.base)
  const { page, pageErrors } = await openChatPage(browser, `http://127.0.0.1:${new URL(relay.uri).port}/`, token({ id: 'ann', groups: ['team'] }), 'team')
  const mongoClient = new MongoClient(mongo.uri)
  t.teardown(() => mongoClient.close())
  const stored = mongoClient.db(mongo.db).collection('messages')

  await sendFromPage(page, 'before the crash')
  await eventually(() => shownMessages(page), (shown) => shown.length === 1)
  // kill -9 loses what is accepted but not stored yet; this test is about the page, so wait.
  await eventually(() => stored.countDocuments(), (count) => count === 1)

  first.signal('SIGKILL')
  await first.exited
  relay.down()
  await page.waitForSelector('#state[data-state=reconnecting]', { timeout: 20_000 })
  t.equal(await page.textContent('#state'), 'reconnecting…', 'the page says it lost the connection')
  await sendFromPage(page, 'typed while the service was down')

  const second = await startServerProcess(t, env)
  const bob = bearer({ id: 'bob', groups: ['team'] })
  for (const content of ['meanwhile 1', 'meanwhile 2', 'meanwhile 3']) {
    t.equal((await post(`${second.base}/api/messages/team`, { content }, bob)).status, 201)
  }
  relay.up()

  await page.waitForSelector('#state[data-state=open]', { timeout: 30_000 })
  const expected = ['before the crash', 'meanwhile 1', 'meanwhile 2', 'meanwhile 3', 'typed while the service was down']
  await eventually(() => shownMessages(page), (shown) => shown.length >= expected.length, 20_000)
  await sleep(500)
  const shown = await shownMessages(page)
  t.same(shown.map((message) => message.content), expected, 'each once, in order')
  t.same(shown.map((message) => message.sender), ['ann', 'bob', 'bob', 'bob', 'ann'])
  const inDatabase = await eventually(() => stored.find().sort({ _id: 1 }).toArray(), (docs) => docs.length === expected.length)
  t.same(shown.map((message) => message.id), inDatabase.map((doc) => doc._id.toHexString()), 'the ids and order the database has')
  // The page asks for presence frames too (&presence=true after since).
  t.ok(second.logs.some((entry) => entry.req?.url?.startsWith(`/ws?channel=team&since=${shown[0]!.id}`) === true), 'resumed after the last message it showed')
  t.same(pageErrors, [])
})
