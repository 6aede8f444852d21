// Decorates `mongo.chat` (via @fastify/mongodb) with an unconnected MongoClient, so start-up
// survives a database that is down, `chatStore`, the message collection, and `chatDatabase`,
// for the collections next to it (read markers, message changes). Without a MONGO_URI it starts
// the embedded in-memory server first.
import fastifyMongo from '@fastify/mongodb'
import { setTimeout as sleep } from 'node:timers/promises'
import fp from 'fastify-plugin'
import { MongoClient, type Collection, type Document } from 'mongodb'
import pRetry from 'p-retry'
import type { FastifyInstance } from 'fastify'
import { startEmbeddedMongo } from '../lib/storage/embedded-mongo.js'
import { MessageStore } from '../lib/storage/message-store.js'
import { connectOnDemand } from '../lib/storage/mongo-connection.js'
import type { MessageDocument } from '../lib/messages/message.js'

declare module 'fastify' {
  interface FastifyInstance {
    chatStore: MessageStore
    chatDatabase: ChatDatabase
  }
}

/** The service's database, for stores of their own next to the messages. */
export interface ChatDatabase {
  /** A collection named after the message collection: MONGO_COLLECTION, `_`, then `suffix`. */
  collection<T extends Document> (suffix: string): Collection<T>
  /** Resolves once the client is connected (see connectOnDemand). */
  connected: () => Promise<void>
  /** Creates a store's indexes in the background, retrying until the database takes them. */
  indexesInBackground (what: string, ensure: () => Promise<void>): void
}

async function mongo (app: FastifyInstance): Promise<void> {
  const { mongoDb, mongoCollection } = app.chatSettings
  const uri = app.chatSettings.mongoUri ?? await embeddedUri(app)
  // A connection that goes silent fails after socketTimeoutMS, so a database that stalls (rather
  // than refuses) cannot hold a write or a history read forever; the writer then retries.
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5_000, socketTimeoutMS: 20_000 })
  // A hung database can keep close() waiting on its open operations: give it a second.
  app.addHook('onClose', () => Promise.race([client.close(), sleep(1_000, undefined, { ref: false })]))
  await app.register(fastifyMongo, { client, database: mongoDb, name: 'chat' })

  const connected = connectOnDemand(client)
  const store = new MessageStore(client.db(mongoDb).collection<MessageDocument>(mongoCollection), connected)
  app.decorate('chatStore', store)
  app.decorate('chatDatabase', {
    collection: <T extends Document>(suffix: string) => client.db(mongoDb).collection<T>(`${mongoCollection}_${suffix}`),
    connected,
    indexesInBackground: (what, ensure) => createIndexesInBackground(app, what, ensure)
  } satisfies ChatDatabase)
  createIndexesInBackground(app, 'message', () => store.ensureIndexes())
}

async function embeddedUri (app: FastifyInstance): Promise<string> {
  const embedded = await startEmbeddedMongo()
  app.addHook('onClose', () => embedded.stop())
  app.log.warn({ uri: embedded.uri, jongodbPid: embedded.pid }, 'MONGO_URI is not set: started an embedded in-memory MongoDB-compatible server (jongodb); messages are lost when the service stops')
  return embedded.uri
}

function createIndexesInBackground (app: FastifyInstance, what: string, ensure: () => Promise<void>): void {
  const stop = new AbortController()
  app.addHook('onClose', async () => stop.abort())
  pRetry(ensure, {
    retries: Number.POSITIVE_INFINITY,
    maxTimeout: 10_000,
    signal: stop.signal,
    onFailedAttempt: ({ error }) => app.log.warn({ err: error }, `creating ${what} indexes failed; retrying`)
  }).then(
    () => app.log.info(`${what} indexes are in place`),
    () => {}
  )
}

export default fp(mongo, { name: 'chat-mongo', dependencies: ['chat-settings'] })
