import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { ObjectId } from 'mongodb'
import type { MessageDocument } from './message.js'

/** One line of the file: a message document with its ObjectId as hex and its date as ISO 8601. */
interface DeadLetterLine {
  _id: string
  channel: string
  sender: string
  content: string
  createdAt: string
  seq?: number
  clientId?: string
}

/**
 * A durable, append-only local file (one JSON message per line) for messages that could not be
 * written to MongoDB. Replay renames the file first, so new appends never race a replay, and
 * deletes the renamed file only once all its messages are stored.
 */
export class DeadLetterFile {
  readonly path: string
  /** Appends and the rename that starts a replay take turns, so no append lands in a claimed file. */
  #turn: Promise<unknown> = Promise.resolve()

  constructor (path: string) {
    this.path = path
  }

  append (documents: MessageDocument[]): Promise<void> {
    if (documents.length === 0) return Promise.resolve()
    return this.#inTurn(() => this.#append(documents))
  }

  async #append (documents: MessageDocument[]): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true })
    // Each line starts with a newline: a line torn by a crash mid-append stays alone on its line
    // (and is skipped) instead of swallowing the next message appended after the restart.
    const lines = documents.map((document) => '\n' + JSON.stringify({ ...document, _id: document._id.toHexString() })).join('') + '\n'
    const handle = await open(this.path, 'a')
    try {
      await handle.appendFile(lines)
      await handle.sync()
    } finally {
      await handle.close()
    }
  }

  /** Stores every message of the file (and of any replay interrupted earlier) with `insert`, then removes them. */
  async replay (insert: (batch: MessageDocument[]) => Promise<unknown>, batchSize: number): Promise<number> {
    await this.#inTurn(() => this.#claimCurrentFile())
    let replayed = 0
    for (const file of await this.#claimedFiles()) {
      const documents = parseLines(await readFile(file, 'utf8').catch(ignoreMissing))
      for (let start = 0; start < documents.length; start += batchSize) {
        await insert(documents.slice(start, start + batchSize))
      }
      await unlink(file).catch(ignoreMissing)
      replayed += documents.length
    }
    return replayed
  }

  #inTurn<T> (step: () => Promise<T>): Promise<T> {
    const result = this.#turn.then(step)
    this.#turn = result.catch(() => {})
    return result
  }

  async #claimCurrentFile (): Promise<void> {
    await rename(this.path, `${this.path}.replaying-${Date.now()}-${process.pid}`).catch(ignoreMissing)
  }

  async #claimedFiles (): Promise<string[]> {
    const prefix = `${basename(this.path)}.replaying-`
    const names = await readdir(dirname(this.path)).catch(() => [] as string[])
    return names.filter((name) => name.startsWith(prefix)).sort().map((name) => join(dirname(this.path), name))
  }
}

/** Another replay (of another process sharing the directory) got there first: nothing to do. */
function ignoreMissing (error: NodeJS.ErrnoException): '' {
  if (error.code !== 'ENOENT') throw error
  return ''
}

function parseLines (text: string): MessageDocument[] {
  // A line cut short by a crash in the middle of an append cannot be read back; skip it, keep the rest.
  return text.split('\n').filter((line) => line.trim() !== '').flatMap((line) => {
    try {
      const { _id, createdAt, seq, ...fields } = JSON.parse(line) as DeadLetterLine
      // Lines written before messages had a seq read back as the oldest of their channel.
      return [{ _id: new ObjectId(_id), createdAt: new Date(createdAt), seq: seq ?? 0, ...fields }]
    } catch {
      return []
    }
  })
}

