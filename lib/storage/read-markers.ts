import { MongoBulkWriteError, MongoServerError, type AnyBulkWriteOperation, type Collection } from 'mongodb'

const DUPLICATE_KEY = 11000

/** How far a user has read a channel: one document per (channel, user). */
export interface ReadMarkerDocument {
  channel: string
  user: string
  /** The seq of the message read up to: markers only move forward by it. */
  seq: number
  /** That message's id. */
  id: string
  at: Date
}

/** A marker to set: to this message, unless the stored one is there or further already. */
export interface MarkerMove {
  channel: string
  user: string
  seq: number
  id: string
}

/** Read markers on one MongoDB collection. */
export class ReadMarkers {
  readonly #collection: Collection<ReadMarkerDocument>
  readonly #connected: () => Promise<void>

  constructor (collection: Collection<ReadMarkerDocument>, connected: () => Promise<void> = async () => {}) {
    this.#collection = collection
    this.#connected = connected
  }

  /** One marker per user and channel; the first key also serves "every marker of a channel", the second a user's markers. */
  async ensureIndexes (): Promise<void> {
    await this.#connected()
    await this.#collection.createIndexes([
      { key: { channel: 1, user: 1 }, name: 'channel_user_unique', unique: true },
      { key: { user: 1, channel: 1 }, name: 'user_channel' }
    ])
  }

  /**
   * Moves the marker forward to the message; true when it moved. A conditional update rather than
   * `$max`, which jongodb refuses: set where the stored seq is lower, else insert. An insert that
   * meets the unique index means a marker exists at or beyond the seq, or that a concurrent first
   * move just inserted one: one more try tells which.
   */
  async advance (move: MarkerMove): Promise<boolean> {
    await this.#connected()
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.#collection.updateOne(
          { channel: move.channel, user: move.user, seq: { $lt: move.seq } },
          { $set: { seq: move.seq, id: move.id, at: new Date() } },
          { upsert: true }
        )
        return result.modifiedCount + result.upsertedCount > 0
      } catch (error) {
        if (!(error instanceof MongoServerError && error.code === DUPLICATE_KEY)) throw error
        if (attempt === 2) return false
      }
    }
  }

  /**
   * Moves many markers forward in one command (as `advance` does each); resolves with how many
   * moved. An insert that meets the unique index is tried again alone, as `advance` would.
   */
  async advanceAll (moves: readonly MarkerMove[]): Promise<number> {
    if (moves.length === 0) return 0
    await this.#connected()
    const at = new Date()
    const operations: Array<AnyBulkWriteOperation<ReadMarkerDocument>> = moves.map((move) => ({
      updateOne: {
        filter: { channel: move.channel, user: move.user, seq: { $lt: move.seq } },
        update: { $set: { seq: move.seq, id: move.id, at } },
        upsert: true
      }
    }))
    try {
      const result = await this.#collection.bulkWrite(operations, { ordered: false })
      return result.modifiedCount + result.upsertedCount
    } catch (error) {
      if (!(error instanceof MongoBulkWriteError)) throw error
      const failed = error.writeErrors
      const writeErrors = Array.isArray(failed) ? failed : [failed]
      if (writeErrors.some((writeError) => writeError.code !== DUPLICATE_KEY)) throw error
      const retried = await Promise.all(writeErrors.map(async (writeError) => await this.advance(moves[writeError.index]!)))
      return error.result.modifiedCount + error.result.upsertedCount + retried.filter(Boolean).length
    }
  }

  /** Every user's marker in the channel. */
  async ofChannel (channel: string): Promise<ReadMarkerDocument[]> {
    await this.#connected()
    return this.#collection.find({ channel }).toArray()
  }

  /** The user's markers in these channels, by channel (channels without one are absent). */
  async ofUser (user: string, channels: readonly string[]): Promise<Map<string, ReadMarkerDocument>> {
    await this.#connected()
    const documents = await this.#collection.find({ user, channel: { $in: [...channels] } }).toArray()
    return new Map(documents.map((document) => [document.channel, document]))
  }
}
