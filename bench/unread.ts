// What GET /api/unread costs a user in 100 channels, against jongodb (or BENCH_MONGO_URI):
// milliseconds per call (median, p99) and the MongoDB commands one call sends.
//   npm run bench:unread -- [calls=100] [messagesPerChannel=50]
// jongodb's inserts cost more the more documents a collection holds (each about 1 µs per
// document already there), so the channels stay small by default; BENCH_MONGO_URI takes more.
import Fastify from 'fastify'
import fp from 'fastify-plugin'
import { MongoClient, ObjectId, type CommandStartedEvent } from 'mongodb'
import { createSigner } from 'fast-jwt'
import chat from '../app.js'
import { startEmbeddedMongo } from '../lib/storage/embedded-mongo.js'
import { UNREAD_CAP } from '../lib/messages/read-state.js'

const calls = Number(process.argv[2] ?? 100)
const messagesPerChannel = Number(process.argv[3] ?? 50)
const WARMUP_CALLS = 10
const CHANNELS = 100
/** Channels over the cap: their count stops at UNREAD_CAP, however many there are. */
const CHANNELS_OVER_CAP = 2
const SECRET = 'bench-secret-that-is-long-enough-for-hs256'
const DB = `bench_unread_${Date.now()}`

const embedded = process.env.BENCH_MONGO_URI === undefined ? await startEmbeddedMongo() : undefined
const uri = process.env.BENCH_MONGO_URI ?? embedded!.uri
const reader = { id: 'reader', groups: Array.from({ length: CHANNELS - 1 }, (_, i) => `group-${i}`) }
const channels = [reader.id, ...reader.groups]

const seeding = new MongoClient(uri)
const database = seeding.db(DB)
const messages = database.collection('messages')
const markers: Array<{ channel: string, user: string, seq: number, id: string, at: Date }> = []
for (const [index, channel] of channels.entries()) {
  // Over the cap even without the reader's own messages (one in five).
  const count = index < CHANNELS_OVER_CAP ? UNREAD_CAP * 1.3 : messagesPerChannel
  const documents = Array.from({ length: count }, (_, n) => ({
    _id: new ObjectId(), channel, sender: n % 5 === 0 ? reader.id : `user-${n % 7}`, content: `message ${n}`, createdAt: new Date(), seq: 1_000_000 + n
  }))
  await messages.insertMany(documents)
  // Every other channel under the cap was read halfway.
  if (index % 2 === 1 && index >= CHANNELS_OVER_CAP) {
    const halfway = documents[Math.floor(count / 2)]!
    markers.push({ channel, user: reader.id, seq: halfway.seq, id: halfway._id.toHexString(), at: new Date() })
  }
}
await database.collection('messages_read_markers').insertMany(markers)

const app = Fastify({ logger: false })
// monitorCommands: the service's own client reports every command, so those of a call can be counted.
const monitored = `${uri}${uri.includes('?') ? '&' : '?'}monitorCommands=true`
// Without its own encapsulation, so that the service's MongoClient is reachable here.
await app.register(fp(chat), { mongoUri: monitored, mongoDb: DB, jwtSecret: SECRET, docs: false, metrics: false })
await app.listen({ port: 0, host: '127.0.0.1' })
const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/api/unread`
const headers = { authorization: `Bearer ${createSigner({ key: SECRET })(reader)}` }
const client = (app as unknown as { mongo: { chat: { client: MongoClient } } }).mongo.chat.client
const commands = new Map<string, number>()
const count = (event: CommandStartedEvent): void => { commands.set(event.commandName, (commands.get(event.commandName) ?? 0) + 1) }

async function unread (): Promise<Record<string, number>> {
  const response = await fetch(url, { headers })
  if (response.status !== 200) throw new Error(`GET /api/unread answered ${response.status}`)
  return await response.json() as Record<string, number>
}

for (let i = 0; i < WARMUP_CALLS; i++) await unread()
// Indexes are created in the background at start: wait for them, so their absence is not measured.
while ((await messages.indexes()).length < 4 || (await database.collection('messages_read_markers').indexes()).length < 3) await new Promise((resolve) => setTimeout(resolve, 100))
const answer = await unread()
client.on('commandStarted', count)
const durations: number[] = []
for (let i = 0; i < calls; i++) {
  const started = performance.now()
  await unread()
  durations.push(performance.now() - started)
}
client.off('commandStarted', count)
durations.sort((a, b) => a - b)
const at = (quantile: number): string => durations[Math.min(durations.length - 1, Math.floor(quantile * durations.length))]!.toFixed(2)
const perCall = [...commands].map(([name, total]) => `${name} ${(total / calls).toFixed(1)}`).join(', ')

console.log(`GET /api/unread, a user in ${CHANNELS} channels (${CHANNELS_OVER_CAP} over the cap of ${UNREAD_CAP}, the others ${messagesPerChannel} messages each, every other one of those read halfway), ${calls} calls one after another, against ${process.env.BENCH_MONGO_URI === undefined ? 'jongodb' : 'BENCH_MONGO_URI'}`)
console.log(`  median ${at(0.5)} ms, p99 ${at(0.99)} ms per call`)
console.log(`  MongoDB commands per call: ${perCall}`)
console.log(`  answer: ${Object.values(answer).filter((unreadCount) => unreadCount === UNREAD_CAP).length} channels at ${UNREAD_CAP}, ${Object.values(answer).reduce((sum, unreadCount) => sum + unreadCount, 0)} unread in all`)

await app.close()
await seeding.close()
await embedded?.stop()
