// The client module against the real service: the `ws` package's WebSocket stands in for the
// global one of browsers and Node 22+ (Node 20, which CI still runs, has it behind a flag only).
import t from 'tap'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { MongoClient } from 'mongodb'
import WebSocket from 'ws'
import { ChatClient, ChatError, type ChatClientOptions, type ChatMessage, type ConnectionState } from '../../client/index.js'
import { requireBuiltClient } from '../browser.js'
import { bearer, buildService, eventually, freePort, get, mongoProxy, post, sleep, startMongo, startServerProcess, token } from '../helper.js'

const alice = { id: 'alice', groups: ['team'] }
const bob = { id: 'bob', groups: ['team'] }

/** A client with everything it emits recorded. */
function watchedClient (t: { teardown (fn: () => unknown): void }, options: Omit<ChatClientOptions, 'WebSocket'>) {
  const client = new ChatClient({ WebSocket, reconnectDelayMs: { min: 50, max: 500 }, ...options })
  const messages: ChatMessage[] = []
  const states: ConnectionState[] = []
  const errors: Error[] = []
  client.on('message', (message) => messages.push(message))
  client.on('state', (state) => states.push(state))
  client.on('error', (error) => errors.push(error))
  t.teardown(() => client.close())
  const reaches = (state: ConnectionState) => eventually(() => client.state, (current) => current === state, 20_000)
  return { client, messages, states, errors, reaches }
}

const contents = (messages: ChatMessage[]) => messages.map((message) => message.content)

t.test('history first, then live messages; send resolves with the stored message or rejects with the refusal', async (t) => {
  const service = await buildService(t)
  for (const content of ['h1', 'h2', 'h3']) await post(`${service.base}/api/messages/team`, { content }, bearer(bob))
  await eventually(() => service.collection.countDocuments(), (count) => count === 3)

  const { client, messages, states, reaches } = watchedClient(t, { url: service.base, channel: 'team', getToken: () => token(alice), history: 2 })
  client.connect()
  await reaches('open')
  t.same(contents(messages), ['h2', 'h3'], 'the newest two, oldest first')

  const live = await post(`${service.base}/api/messages/team`, { content: 'live' }, bearer(bob))
  await eventually(() => messages.length, (count) => count === 3)
  t.same(messages[2], live.body, 'a live message arrives as the service sent it')

  const sent = await client.send('from the client')
  t.match(sent, { id: /^[0-9a-f]{24}$/, channel: 'team', sender: 'alice', content: 'from the client' })
  t.same(messages.at(-1), sent, 'and is delivered once, as a message of the channel')

  await t.rejects(client.send('x'.repeat(5000)), { name: 'ChatError', statusCode: 400, code: 'CHAT_INVALID_MESSAGE' })
  await t.rejects(client.send('   '), { code: 'CHAT_INVALID_MESSAGE' })
  t.equal((await client.send('still fine')).content, 'still fine', 'a refusal settles only its own send')
  await sleep(100)
  t.same(contents(messages), ['h2', 'h3', 'live', 'from the client', 'still fine'])

  client.close()
  t.equal(client.state, 'closed')
  await t.rejects(client.send('after close'), /closed/)
  t.same(states, ['connecting', 'open', 'closed'])
})

t.test('the built module with the global WebSocket and no options for it (Node 22 has it; Node 20 behind a flag)', async (t) => {
  requireBuiltClient()
  const service = await buildService(t)
  const script = `
    const { ChatClient } = await import(${JSON.stringify(pathToFileURL(join(import.meta.dirname, '..', '..', 'dist', 'client', 'index.js')).href)})
    const client = new ChatClient({ url: ${JSON.stringify(service.base)}, channel: 'team', getToken: () => ${JSON.stringify(token(alice))} })
    client.connect()
    console.log(JSON.stringify(await client.send('over the global WebSocket')))
    client.close()`
  const { stdout } = await promisify(execFile)(process.execPath, ['--experimental-websocket', '--no-warnings', '--input-type=module', '-e', script], { timeout: 30_000 })
  const sent = JSON.parse(stdout)
  t.match(sent, { sender: 'alice', content: 'over the global WebSocket' })
  const stored = await eventually(() => service.collection.find().toArray(), (docs) => docs.length === 1)
  t.equal(stored[0]!._id.toHexString(), sent.id)
})

t.test('since: resumes after the given id', async (t) => {
  const service = await buildService(t)
  const first = await post(`${service.base}/api/messages/team`, { content: 'before' }, bearer(bob))
  await post(`${service.base}/api/messages/team`, { content: 'after' }, bearer(bob))
  const resumed = watchedClient(t, { url: service.base, channel: 'team', getToken: () => token(alice), since: first.body.id })
  resumed.client.connect()
  await eventually(() => contents(resumed.messages), (list) => list.length === 1)
  t.same(contents(resumed.messages), ['after'])
})

t.test('a channel empty at the first connect: what it gets while the client is away, before any message arrived, is delivered', async (t) => {
  const service = await buildService(t)
  const relay = await mongoProxy(t, service.base)
  const { client, messages, reaches } = watchedClient(t, { url: `http://127.0.0.1:${new URL(relay.uri).port}/chat/`, channel: 'alice', getToken: () => token(alice) })
  client.connect()
  await reaches('open')
  t.equal(client.lastId, undefined, 'nothing to resume from yet')
  relay.down()
  await reaches('reconnecting')
  const sent = []
  for (const content of ['while away 1', 'while away 2']) sent.push((await post(`${service.base}/api/messages/alice`, { content }, bearer(alice))).body)
  await eventually(() => service.collection.countDocuments(), (count) => count === 2)
  relay.up()
  await reaches('open')
  await eventually(() => messages.length, (count) => count === 2)
  const live = await post(`${service.base}/api/messages/alice`, { content: 'live again' }, bearer(alice))
  await eventually(() => messages.length, (count) => count === 3)
  await sleep(200)
  t.same(messages, [...sent, live.body], 'each once, in order')
  t.equal(client.lastId, live.body.id)
})

t.test('refusals the service will not change stop the client; a bad token is retried with a new one from getToken', async (t) => {
  const service = await buildService(t)
  const forbidden = watchedClient(t, { url: service.base, channel: 'bob', getToken: () => token(alice) })
  forbidden.client.connect()
  await forbidden.reaches('closed')
  t.match(forbidden.errors, [{ name: 'ChatError', statusCode: 403, code: 'CHAT_FORBIDDEN' }], 'the upgrade\'s refusal, read from the service')

  const invalid = watchedClient(t, { url: service.base, channel: '$where', getToken: () => token(alice) })
  invalid.client.connect()
  await invalid.reaches('closed')
  t.match(invalid.errors, [{ statusCode: 400 }])

  let asked = 0
  const refreshed = watchedClient(t, { url: service.base, channel: 'team', getToken: () => ++asked < 3 ? 'not-a-token' : token(alice) })
  refreshed.client.connect()
  await refreshed.reaches('open')
  t.equal(asked, 3, 'asked on every attempt')
  t.match(refreshed.errors, [{ statusCode: 401, code: 'CHAT_UNAUTHORIZED' }, { statusCode: 401 }])
  t.ok(refreshed.errors.every((error) => error instanceof ChatError))
})

t.test('kill -9 and restart of the service: the client comes back by itself and delivers what was sent meanwhile once, in order', async (t) => {
  const mongo = await startMongo(t)
  const env = { MONGO_URI: mongo.uri, MONGO_DB: mongo.db, PORT: String(await freePort()), DEAD_LETTER_FILE: join(t.testdir(), 'dead-letter.jsonl'), CHAT_PAGE: 'false' }
  const first = await startServerProcess(t, env)
  // The client goes through a TCP relay that the test closes while the service is down, so
  // that what is sent meanwhile can only reach it through the resume.
  const relay = await mongoProxy(t, first.base)
  let tokens = 0
  const { client, messages, reaches } = watchedClient(t, {
    url: `http://127.0.0.1:${new URL(relay.uri).port}`,
    channel: 'team',
    getToken: () => { tokens++; return token(alice) }
  })
  client.connect()
  await reaches('open')
  const before = await post(`${first.base}/api/messages/team`, { content: 'before the crash' }, bearer(bob))
  await eventually(() => messages.length, (count) => count === 1)
  // kill -9 loses what was accepted but not yet stored; this test is about the client, so wait.
  const mongoClient = new MongoClient(mongo.uri)
  t.teardown(() => mongoClient.close())
  const stored = mongoClient.db(mongo.db).collection('messages')
  await eventually(() => stored.countDocuments(), (count) => count === 1)

  first.signal('SIGKILL')
  await first.exited
  relay.down()
  await reaches('reconnecting')
  const sentWhileDown = client.send('sent while down')

  const second = await startServerProcess(t, env)
  const meanwhile = []
  for (const content of ['meanwhile 1', 'meanwhile 2']) meanwhile.push((await post(`${second.base}/api/messages/team`, { content }, bearer(bob))).body)
  relay.up()

  const own = await sentWhileDown
  t.match(own, { sender: 'alice', content: 'sent while down' })
  await eventually(() => messages.length, (count) => count >= 4, 20_000)
  await sleep(300)
  t.same(messages, [before.body, ...meanwhile, own], 'each message once, in order')
  t.ok(second.logs.some((entry) => entry.req?.url === `/ws?channel=team&since=${before.body.id}`), 'resumed after the last message it had')
  t.ok(tokens >= 2, `asked getToken on every connect (${tokens} times)`)
  const inDatabase = await eventually(() => stored.find().sort({ _id: 1 }).toArray(), (docs) => docs.length === 4)
  t.same(inDatabase.map((doc) => doc._id.toHexString()), messages.map((message) => message.id), 'the order the database has')
})

t.test('a socket closed for an expired token (4001) comes back with a fresh token from getToken, missing nothing', async (t) => {
  const service = await buildService(t, { jwtClockToleranceS: 0 })
  let tokensGiven = 0
  // Each token lives 2 s: the service closes the socket with 4001 when it expires.
  const { client, messages, reaches } = watchedClient(t, {
    url: service.base,
    channel: 'team',
    getToken: () => { tokensGiven++; return token(alice, { expiresIn: 2_000 }) }
  })
  client.connect()
  await reaches('open')
  const sent: string[] = []
  for (let i = 0; i < 30; i++) {
    sent.push((await post(`${service.base}/api/messages/team`, { content: `m${i}` }, bearer(bob))).body.id)
    await sleep(150)
  }
  await eventually(() => messages.length, (count) => count === 30, 20_000)
  t.ok(tokensGiven >= 3, `it asked for a fresh token on every reconnect (${tokensGiven} tokens)`)
  t.same(messages.map((message) => message.id), sent, 'every message once, in order, across the expiries')
  t.equal(client.state, 'open')
})

t.test('one socket for several channels: subscribe and unsubscribe at any time, send to a channel, each channel resumed after a reconnect', async (t) => {
  const service = await buildService(t)
  const relay = await mongoProxy(t, service.base)
  const ann = { id: 'ann', groups: ['g1', 'g2', 'g3'] }
  const ben = { id: 'ben', groups: ['g1', 'g2', 'g3'] }
  const { client, messages, reaches } = watchedClient(t, { url: `http://127.0.0.1:${new URL(relay.uri).port}/chat`, channels: ['g1', 'g2'], getToken: () => token(ann) })
  client.connect()
  await reaches('open')
  const own = await client.send('g2', 'from ann')
  t.match(own, { channel: 'g2', sender: 'ann' })
  const metrics = await (await fetch(`${service.base}/metrics`)).text()
  t.match(metrics, /^chat_websocket_connections 1$/m, 'one socket for both channels')
  t.match(metrics, /^chat_websocket_subscriptions 2$/m)

  const first = await post(`${service.base}/api/messages/g1`, { content: 'g1 first' }, bearer(ben))
  await eventually(() => messages.length, (count) => count === 2)
  relay.down()
  await reaches('reconnecting')
  const away = []
  for (const channel of ['g1', 'g2', 'g1']) away.push((await post(`${service.base}/api/messages/${channel}`, { content: `${channel} away` }, bearer(ben))).body)
  relay.up()
  await reaches('open')
  await eventually(() => messages.length, (count) => count === 5)
  await sleep(200)
  const idsIn = (channel: string) => messages.filter((message) => message.channel === channel).map((message) => message.id)
  t.same(idsIn('g1'), [first.body.id, away[0].id, away[2].id], 'each once, in the channel\'s order')
  t.same(idsIn('g2'), [own.id, away[1].id])
  t.equal(client.lastIdOf('g1'), away[2].id)
  t.equal(client.lastIdOf('g2'), away[1].id)

  const counts = async () => (await get(`${service.base}/api/messages/counts?channels=g1,g3`)).body
  client.subscribe('g3')
  client.unsubscribe('g1')
  await eventually(counts, (value) => value.g1 === 0 && value.g3 === 1)
  const g3 = await post(`${service.base}/api/messages/g3`, { content: 'g3 live' }, bearer(ben))
  await post(`${service.base}/api/messages/g1`, { content: 'g1 after unsubscribe' }, bearer(ben))
  await eventually(() => messages.length, (count) => count === 6)
  await sleep(200)
  t.same(messages.at(-1), g3.body, 'the new channel live; nothing of the channel let go')
  t.same(client.channels, ['g2', 'g3'])
})

t.test('a subscription the service refuses is dropped with an error; the other channels go on', async (t) => {
  const service = await buildService(t)
  const { client, errors, reaches, messages } = watchedClient(t, { url: service.base, channels: ['team', 'bob'], getToken: () => token(alice) })
  client.connect()
  await reaches('open')
  t.match(errors, [{ name: 'ChatError', statusCode: 403, code: 'CHAT_FORBIDDEN', body: { channel: 'bob' } }])
  t.same(client.channels, ['team'])
  await post(`${service.base}/api/messages/team`, { content: 'still here' }, bearer(bob))
  await eventually(() => messages.length, (count) => count === 1)
})

t.test('a link blackholed by a proxy: the client notices the silence, pings, reconnects and misses nothing', async (t) => {
  const service = await buildService(t)
  const relay = await mongoProxy(t, service.base)
  const { client, messages, states, reaches } = watchedClient(t, {
    url: `http://127.0.0.1:${new URL(relay.uri).port}/chat`,
    channel: 'team',
    getToken: () => token(alice),
    liveness: { intervalMs: 300, timeoutMs: 300 }
  })
  client.connect()
  await reaches('open')
  const before = await post(`${service.base}/api/messages/team`, { content: 'before' }, bearer(bob))
  await eventually(() => messages.length, (count) => count === 1)
  relay.blackhole()
  const during = await post(`${service.base}/api/messages/team`, { content: 'while blackholed' }, bearer(bob))
  await eventually(() => states.filter((state) => state === 'open').length, (count) => count === 2, 10_000)
  await eventually(() => messages.length, (count) => count === 2)
  await sleep(200)
  t.same(messages, [before.body, during.body], 'each once, in order')
  t.same(states.slice(0, 4), ['connecting', 'open', 'reconnecting', 'open'])
})

t.test('presence and typing: who is online per channel, who is typing, cleared by their message; typing() throttled', async (t) => {
  const service = await buildService(t, { presenceLeaveDelayMs: 100 })
  const annClient = watchedClient(t, { url: service.base, channels: ['team'], getToken: () => token(alice), presence: true, typingIntervalMs: 300 })
  const bobClient = watchedClient(t, { url: service.base, channels: ['team'], getToken: () => token(bob), presence: true })
  const typingSeen: string[][] = []
  annClient.client.on('typing', ({ users }) => typingSeen.push(users))
  annClient.client.connect()
  await annClient.reaches('open')
  bobClient.client.connect()
  await bobClient.reaches('open')
  t.same(await eventually(() => annClient.client.presence('team'), (users) => users.length === 2), ['alice', 'bob'])

  bobClient.client.typing('team')
  bobClient.client.typing('team')
  t.same(await eventually(() => annClient.client.typers('team'), (users) => users.length === 1), ['bob'])
  await sleep(200)
  t.match(await (await fetch(`${service.base}/metrics`)).text(), /^chat_typing_relayed_total 1$/m, 'the second call within the interval sent nothing')
  await bobClient.client.send('done typing')
  t.same(await eventually(() => annClient.client.typers('team'), (users) => users.length === 0), [], 'a typer\'s message clears them')
  t.same(typingSeen, [['bob'], []])

  bobClient.client.close()
  t.same(await eventually(() => annClient.client.presence('team'), (users) => users.length === 1), ['alice'], 'gone with their last socket')
})

t.test('read state and changes: markRead, unread counts, receipts; an edit or delete replaces the message once, even when it comes again after a reconnect', async (t) => {
  const service = await buildService(t)
  const relay = await mongoProxy(t, service.base)
  const first = await post(`${service.base}/api/messages/team`, { content: 'first' }, bearer(bob))
  const second = await post(`${service.base}/api/messages/team`, { content: 'second' }, bearer(bob))
  const { client, reaches } = watchedClient(t, { url: `http://127.0.0.1:${new URL(relay.uri).port}/chat`, channel: 'team', getToken: () => token(alice), since: first.body.id })
  const changes: ChatMessage[] = []
  const receipts: unknown[] = []
  client.on('changed', (message) => changes.push(message))
  client.on('read', (receipt) => receipts.push(receipt))
  client.connect()
  await reaches('open')
  await eventually(() => client.lastId, (id) => id === second.body.id)
  // Counted from what is stored (written in the background): no marker yet, so both of bob's.
  t.same(await eventually(() => client.unread(), (counts) => counts.team === 2), { alice: 0, team: 2 })
  await client.markRead('team')
  t.same(await eventually(() => client.unread(), (counts) => counts.team === 0), { alice: 0, team: 0 })
  t.same(await eventually(() => receipts, (list) => list.length === 1), [{ channel: 'team', user: 'alice', id: second.body.id }], 'the reader\'s own receipt')
  t.equal((await client.readMarkers('team')).alice, second.body.id, 'seen by alice (bob\'s marker follows his own messages)')

  const patch = await fetch(`${service.base}/api/messages/team/${first.body.id}`, { method: 'PATCH', headers: { 'content-type': 'application/json', ...bearer(bob) }, body: JSON.stringify({ content: 'first, edited' }) })
  t.equal(patch.status, 200)
  await fetch(`${service.base}/api/messages/team/${second.body.id}`, { method: 'DELETE', headers: bearer(bob) })
  await eventually(() => changes.length, (count) => count === 2)
  t.match(changes, [{ id: first.body.id, content: 'first, edited', editedAt: /Z$/ }, { id: second.body.id, content: '', deletedAt: /Z$/ }])

  // Both changes come after the last message delivered: the resume sends them again.
  relay.down()
  await reaches('reconnecting')
  relay.up()
  await reaches('open')
  await sleep(500)
  t.equal(changes.length, 2, 'applying a change twice changes nothing')
})
