import { MongoBulkWriteError, MongoServerError, ObjectId, type Collection, type Filter } from 'mongodb'
import { fromDocument, type ChatMessage, type MessageDocument } from './message.js'

const DUPLICATE_KEY = 11000

/** Which messages a reader may see: a channel, or only one sender's messages in it. */
export interface Scope {
  channel: string
  sender?: string
}

export interface HistoryQuery {
  scope: Scope
  limit: number
  /** Only messages older than this id (paging backwards). */
  before?: string
}

/** Message persistence on one MongoDB collection. */
export class MessageStore {
  readonly #collection: Collection<MessageDocument>
  readonly #connected: () => Promise<void>

  /** `connected` resolves once the collection's client is connected (see connectOnDemand). */
  constructor (collection: Collection<MessageDocument>, connected: () => Promise<void> = async () => {}) {
    this.#collection = collection
    this.#connected = connected
  }

  /** The indexes behind the history query: all of a channel, or one sender's part of it, newest first. */
  async ensureIndexes (): Promise<void> {
    await this.#connected()
    await this.#collection.createIndexes([
      { key: { channel: 1, _id: -1 }, name: 'channel_newest_first' },
      { key: { channel: 1, sender: 1, _id: -1 }, name: 'channel_sender_newest_first' }
    ])
  }

  /**
   * Inserts the documents so that each ends up stored exactly once, however often it is called:
   * a duplicate `_id` means an earlier attempt already stored that document.
   */
  async insertBatch (documents: MessageDocument[]): Promise<void> {
    await this.#connected()
    try {
      await this.#collection.insertMany(documents, { ordered: false })
    } catch (error) {
      if (!isOnlyDuplicateKeys(error)) throw error
      // Real MongoDB has stored every other document of an unordered batch by now; jongodb rejects
      // the whole batch instead. Asking which ids exist and inserting the rest is right for both.
      const missing = await this.#missing(documents)
      if (missing.length > 0) await this.insertBatch(missing)
    }
  }

  async history (query: HistoryQuery): Promise<ChatMessage[]> {
    await this.#connected()
    const filter: Filter<MessageDocument> = { ...query.scope }
    if (query.before !== undefined) filter._id = { $lt: new ObjectId(query.before) }
    const documents = await this.#collection.find(filter).sort({ _id: -1 }).limit(query.limit).toArray()
    return documents.map(fromDocument)
  }

  /** Messages newer than the id, oldest first: what a reconnecting client missed. */
  async after (scope: Scope, after: string, limit: number): Promise<ChatMessage[]> {
    await this.#connected()
    const filter: Filter<MessageDocument> = { ...scope, _id: { $gt: new ObjectId(after) } }
    const documents = await this.#collection.find(filter).sort({ _id: 1 }).limit(limit).toArray()
    return documents.map(fromDocument)
  }

  /** Resolves when the database answers within the timeout. */
  async ping (timeoutMs: number): Promise<void> {
    const timeout = AbortSignal.timeout(timeoutMs)
    await Promise.race([
      this.#connected().then(() => this.#collection.db.command({ ping: 1 })),
      new Promise((_resolve, reject) => timeout.addEventListener('abort', () => reject(new Error('ping timed out'))))
    ])
  }

  async #missing (documents: MessageDocument[]): Promise<MessageDocument[]> {
    const ids = documents.map((document) => document._id)
    const stored = await this.#collection.find({ _id: { $in: ids } }, { projection: { _id: 1 } }).toArray()
    const storedIds = new Set(stored.map((document) => document._id.toHexString()))
    return documents.filter((document) => !storedIds.has(document._id.toHexString()))
  }
}

function isOnlyDuplicateKeys (error: unknown): boolean {
  if (error instanceof MongoBulkWriteError) {
    const writeErrors = [error.writeErrors].flat()
    return writeErrors.length > 0
      ? writeErrors.every((writeError) => writeError.code === DUPLICATE_KEY)
      : error.code === DUPLICATE_KEY
  }
  return error instanceof MongoServerError && error.code === DUPLICATE_KEY
}
