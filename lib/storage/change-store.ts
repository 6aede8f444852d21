import { MongoServerError, type Collection } from 'mongodb'
import { missedChange, type ChangeDocument, type MissedChange } from '../messages/message-change.js'

const DUPLICATE_KEY = 11000

/** The changes to messages (edits, deletes) on one MongoDB collection, by channel and seq. */
export class ChangeStore {
  readonly #collection: Collection<ChangeDocument>
  readonly #connected: () => Promise<void>

  constructor (collection: Collection<ChangeDocument>, connected: () => Promise<void> = async () => {}) {
    this.#collection = collection
    this.#connected = connected
  }

  async ensureIndexes (): Promise<void> {
    await this.#connected()
    await this.#collection.createIndexes([{ key: { channel: 1, seq: 1 }, name: 'channel_seq' }])
  }

  /** Stores the change once, however often it is called (its `_id` is fixed when it is made). */
  async insert (change: ChangeDocument): Promise<void> {
    await this.#connected()
    try {
      await this.#collection.insertOne(change)
    } catch (error) {
      if (!(error instanceof MongoServerError && error.code === DUPLICATE_KEY)) throw error
    }
  }

  /** The channel's changes after a seq, up to `untilSeq`, oldest first. */
  async after (channel: string, afterSeq: number, limit: number, untilSeq = Number.MAX_SAFE_INTEGER): Promise<MissedChange[]> {
    await this.#connected()
    const documents = await this.#collection
      .find({ channel, seq: { $gt: afterSeq, $lte: untilSeq } })
      .sort({ seq: 1 })
      .limit(limit)
      .toArray()
    return documents.map(missedChange)
  }
}
