import { MongoServerError, ObjectId, WriteConcern, type Collection, type Document, type Filter } from 'mongodb'
import { fromDocument, type ChatMessage, type MessageDocument } from '../messages/message.js'

const DUPLICATE_KEY = 11000
/**
 * The documents of one insert command add up to at most this many bytes, by an estimate that is
 * never below their BSON size (see bsonSizeBound): MongoDB takes a command of 16 MiB (and 16 KiB
 * for the rest of the command), and the driver cannot even serialize one of 17 MiB.
 */
const MAX_COMMAND_DOCUMENTS_BYTES = 16 * 1024 * 1024

/** Which messages a reader may see: a channel, or only one sender's messages in it. */
export interface Scope {
  channel: string
  sender?: string
}

export interface HistoryQuery {
  scope: Scope
  limit: number
  /** Only messages before this seq (paging backwards). */
  beforeSeq?: number
}

/**
 * Documents of a batch that were not stored because the same sender's clientId was already
 * stored under another id, each with the stored document that stands for it.
 */
export type Superseded = Map<string, MessageDocument>

/** Message persistence on one MongoDB collection. */
export class MessageStore {
  readonly #collection: Collection<MessageDocument>
  readonly #connected: () => Promise<void>

  /** `connected` resolves once the collection's client is connected (see connectOnDemand). */
  constructor (collection: Collection<MessageDocument>, connected: () => Promise<void> = async () => {}) {
    this.#collection = collection
    this.#connected = connected
  }

  /**
   * The indexes behind history and catch-up (all of a channel, or one sender's part of it, by
   * seq) and the one that makes a sender's clientId name one message only.
   */
  async ensureIndexes (): Promise<void> {
    await this.#connected()
    await this.#collection.createIndexes([
      { key: { channel: 1, seq: 1 }, name: 'channel_seq' },
      { key: { channel: 1, sender: 1, seq: 1 }, name: 'channel_sender_seq' },
      {
        key: { sender: 1, clientId: 1 },
        name: 'sender_client_id_unique',
        unique: true,
        partialFilterExpression: { clientId: { $exists: true } }
      }
    ])
  }

  /**
   * Inserts the documents so that each ends up stored exactly once, however often it is called:
   * a duplicate `_id` means an earlier attempt already stored that document, and a duplicate
   * (sender, clientId) that the sender's message is stored already, under the id of the first.
   */
  async insertBatch (documents: MessageDocument[]): Promise<Superseded> {
    const superseded: Superseded = new Map()
    for (const chunk of commandSized(documents)) await this.#insertEachOnce(chunk, superseded)
    return superseded
  }

  async #insertEachOnce (documents: MessageDocument[], superseded: Superseded): Promise<void> {
    let pending = documents
    while (pending.length > 0) {
      await this.#connected()
      try {
        await this.#insert(pending)
        return
      } catch (error) {
        if (!isOnlyDuplicateKeys(error)) throw error
        // Real MongoDB has stored every other document of an unordered batch by now; jongodb rejects
        // the whole batch instead. Asking what is stored and inserting the rest is right for both.
        const unstored = await this.#unstored(pending, superseded)
        if (unstored.length === pending.length) throw error
        pending = unstored
      }
    }
  }

  /**
   * One unordered `insert` command. Not insertMany: the driver's bulk write serializes each
   * document on its own and keeps a batch's books, about a fifth more CPU per stored message
   * (BENCHMARKS.md), and this service splits and retries its batches itself. A document the
   * server refuses (a duplicate key, say) fails the call, as insertMany would.
   */
  async #insert (documents: MessageDocument[]): Promise<void> {
    const command: Document = { insert: this.#collection.collectionName, documents, ordered: false }
    // insertMany would send the collection's write concern (from the connection string, say).
    const writeConcern = this.#collection.writeConcern
    if (writeConcern !== undefined) WriteConcern.apply(command, writeConcern)
    const reply = await this.#collection.db.command(command)
    const writeErrors: WriteError[] = reply.writeErrors ?? []
    if (writeErrors.length > 0) throw new WriteErrors(writeErrors)
    if (reply.writeConcernError !== undefined) {
      throw new Error(`MongoDB took the batch but not with the write concern asked: ${reply.writeConcernError.errmsg as string}`)
    }
  }

  /** The stored messages of these (sender, clientId) pairs, by clientKey; one query for them all. */
  async findByClientIds (pairs: ReadonlyArray<{ sender: string, clientId: string }>): Promise<Map<string, ChatMessage>> {
    await this.#connected()
    const documents = await this.#collection.find({
      sender: { $in: [...new Set(pairs.map((pair) => pair.sender))] },
      clientId: { $in: [...new Set(pairs.map((pair) => pair.clientId))] }
    }).toArray()
    return new Map(documents.map((document) => [clientKey(document.sender, document.clientId!), fromDocument(document)]))
  }

  /** The stored message a sender sent with this clientId, if any. */
  async findByClientId (sender: string, clientId: string): Promise<ChatMessage | undefined> {
    return (await this.findByClientIds([{ sender, clientId }])).get(clientKey(sender, clientId))
  }

  /** The stored message with this id, if any. */
  async findById (id: string): Promise<ChatMessage | undefined> {
    await this.#connected()
    const document = await this.#collection.findOne({ _id: new ObjectId(id) })
    return document === null ? undefined : fromDocument(document)
  }

  /** Newest first. */
  async history (query: HistoryQuery): Promise<ChatMessage[]> {
    await this.#connected()
    const filter: Filter<MessageDocument> = { ...query.scope }
    if (query.beforeSeq !== undefined) filter.seq = { $lt: query.beforeSeq }
    const documents = await this.#collection.find(filter).sort({ seq: -1 }).limit(query.limit).toArray()
    return documents.map(fromDocument)
  }

  /** Messages after a seq (up to `untilSeq` when given), oldest first: what a reconnecting client missed. */
  async after (scope: Scope, afterSeq: number, limit: number, untilSeq = Number.MAX_SAFE_INTEGER): Promise<ChatMessage[]> {
    await this.#connected()
    const filter: Filter<MessageDocument> = { ...scope, seq: { $gt: afterSeq, $lte: untilSeq } }
    const documents = await this.#collection.find(filter).sort({ seq: 1 }).limit(limit).toArray()
    return documents.map(fromDocument)
  }

  /**
   * Gives the message its new content, unless it is deleted or a later change (by seq) is applied
   * already: so applying a change twice, or late, changes nothing.
   */
  async applyEdit (id: string, content: string, editedAt: Date, changeSeq: number): Promise<void> {
    await this.#connected()
    await this.#collection.updateOne(
      { _id: new ObjectId(id), deletedAt: { $exists: false }, $or: [{ changeSeq: { $exists: false } }, { changeSeq: { $lt: changeSeq } }] },
      { $set: { content, editedAt, changeSeq } }
    )
  }

  /** Makes the message a tombstone: its content "", `deletedAt` set; a deleted message stays as it is. */
  async applyDelete (id: string, deletedAt: Date, changeSeq: number): Promise<void> {
    await this.#connected()
    await this.#collection.updateOne({ _id: new ObjectId(id), deletedAt: { $exists: false } }, { $set: { content: '', deletedAt, changeSeq } })
  }

  /**
   * The channel's messages after a seq that others sent and that are not deleted, counted up to
   * `cap`: the count walks the (channel, seq) index from the seq and stops at the cap, so its cost
   * does not grow with the channel.
   */
  async countAfter (channel: string, afterSeq: number, exceptSender: string, cap: number): Promise<number> {
    await this.#connected()
    return this.#collection.countDocuments(
      { channel, seq: { $gt: afterSeq }, sender: { $ne: exceptSender }, deletedAt: { $exists: false } },
      { limit: cap }
    )
  }

  /** Resolves when the database answers within the timeout. */
  async ping (timeoutMs: number): Promise<void> {
    const timeout = AbortSignal.timeout(timeoutMs)
    await Promise.race([
      this.#connected().then(() => this.#collection.db.command({ ping: 1 })),
      new Promise((_resolve, reject) => timeout.addEventListener('abort', () => reject(new Error('ping timed out'))))
    ])
  }

  /** The documents that are neither stored under their id nor superseded by a stored message with their clientId. */
  async #unstored (documents: MessageDocument[], superseded: Superseded): Promise<MessageDocument[]> {
    const withClientId = documents.filter((document) => document.clientId !== undefined)
    const stored = await this.#collection.find({
      $or: [
        { _id: { $in: documents.map((document) => document._id) } },
        ...withClientId.map(({ sender, clientId }) => ({ sender, clientId }))
      ]
    }).toArray()
    const storedIds = new Set(stored.map((document) => document._id.toHexString()))
    const byClientId = new Map(stored.filter((document) => document.clientId !== undefined)
      .map((document) => [clientKey(document.sender, document.clientId!), document]))
    const unstored: MessageDocument[] = []
    for (const document of documents) {
      const id = document._id.toHexString()
      if (storedIds.has(id)) continue
      const first = document.clientId === undefined ? undefined : byClientId.get(clientKey(document.sender, document.clientId))
      if (first !== undefined) superseded.set(id, first)
      else unstored.push(document)
    }
    return withoutRepeatedClientIds(unstored, superseded)
  }
}

/** One sender's clientId names one message: a later document with the same pair stands for the first. */
function withoutRepeatedClientIds (documents: MessageDocument[], superseded: Superseded): MessageDocument[] {
  const first = new Map<string, MessageDocument>()
  return documents.filter((document) => {
    if (document.clientId === undefined) return true
    const key = clientKey(document.sender, document.clientId)
    const earlier = first.get(key)
    if (earlier === undefined) {
      first.set(key, document)
      return true
    }
    superseded.set(document._id.toHexString(), earlier)
    return false
  })
}

export function clientKey (sender: string, clientId: string): string {
  return `${sender}\u0000${clientId}`
}

interface WriteError {
  index: number
  code: number
  errmsg?: string
}

/** The documents an insert command did not store, from its answer. */
class WriteErrors extends Error {
  readonly writeErrors: WriteError[]

  constructor (writeErrors: WriteError[]) {
    super(`MongoDB did not store ${writeErrors.length} of the documents: ${writeErrors[0]?.errmsg ?? ''}`)
    this.writeErrors = writeErrors
  }
}

function isOnlyDuplicateKeys (error: unknown): boolean {
  if (error instanceof WriteErrors) return error.writeErrors.every((writeError) => writeError.code === DUPLICATE_KEY)
  // jongodb answers a whole insert command with the error (see #insertEachOnce).
  return error instanceof MongoServerError && error.code === DUPLICATE_KEY
}

/** Runs of the documents whose insert commands stay within MongoDB's size for a command. */
function * commandSized (documents: MessageDocument[]): Generator<MessageDocument[]> {
  let start = 0
  let bytes = 0
  for (let end = 0; end < documents.length; end++) {
    const size = bsonSizeBound(documents[end]!)
    if (end > start && bytes + size > MAX_COMMAND_DOCUMENTS_BYTES) {
      yield documents.slice(start, end)
      start = end
      bytes = 0
    }
    bytes += size
  }
  if (start === 0) yield documents
  else yield documents.slice(start)
}

/**
 * At least the BSON size of the document as an element of the command's array: its fields'
 * names, types and lengths (under 128 bytes with the array index) and at most three UTF-8 bytes
 * for each UTF-16 unit of its strings.
 */
function bsonSizeBound (document: MessageDocument): number {
  const textLength = document.channel.length + document.sender.length + document.content.length + (document.clientId?.length ?? 0)
  return 128 + 3 * textLength
}
