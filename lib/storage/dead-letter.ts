import { spawn } from 'node:child_process'
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { ObjectId } from 'mongodb'
import type { MessageDocument } from '../messages/message.js'

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

/** At most this many messages per write call: a large append reports progress as it goes. */
const LINES_PER_WRITE = 1_000

/**
 * A durable, append-only local file (one JSON message per line) for messages that could not be
 * written to MongoDB. Replay renames the file first, so new appends never race a replay, and
 * deletes the renamed file only once all its messages are stored.
 *
 * Checks and appends give up after a timeout: some file systems never answer (an NFS server
 * that is gone), and a caller that waits forever can neither report nor keep its messages.
 */
export class DeadLetterFile {
  readonly path: string
  readonly #timeoutMs: number
  /** Appends and the rename that starts a replay take turns, so no append lands in a claimed file. */
  #turn: Promise<unknown> = Promise.resolve()
  /** Checks asked for while one runs share it. */
  #checking: Promise<void> | undefined

  constructor (path: string, timeoutMs = 5_000) {
    this.path = path
    this.#timeoutMs = timeoutMs
  }

  /**
   * Creates the directory, test-writes it (a probe file, written and removed) and, if the file
   * exists, opens it for appending. Rejects saying why when any of that fails or takes longer
   * than the timeout.
   *
   * It runs in a child process: an operation that never returns blocks that process, which is
   * then killed, instead of a thread of this one. Node's exit waits for its file-system threads,
   * so a single one stuck would keep the service from ever exiting.
   */
  check (timeoutMs = this.#timeoutMs): Promise<void> {
    this.#checking ??= checkInChildProcess(this.path, timeoutMs).finally(() => { this.#checking = undefined })
    return this.#checking
  }

  /**
   * Appends durably (fsync). Rejects once the file system has made no progress for the timeout:
   * a large append may take longer than that, one that hangs does not.
   */
  append (documents: MessageDocument[]): Promise<void> {
    if (documents.length === 0) return Promise.resolve()
    return untilStalled((progressed) => this.#inTurn(() => this.#append(documents, progressed)), this.#timeoutMs)
  }

  async #append (documents: MessageDocument[], progressed: () => void): Promise<void> {
    await makeDirectory(dirname(this.path))
    const handle = await open(this.path, 'a')
    try {
      for (let start = 0; start < documents.length; start += LINES_PER_WRITE) {
        progressed()
        await handle.write(toLines(documents.slice(start, start + LINES_PER_WRITE)))
      }
      progressed()
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

/**
 * `mkdir -p`, one level at a time. Node 20's `mkdir(path, { recursive: true })` never settles
 * for a path under /proc: it keeps retrying in a thread-pool thread, at full CPU.
 */
async function makeDirectory (directory: string): Promise<void> {
  try {
    await mkdir(directory)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return
    if (code !== 'ENOENT' || dirname(directory) === directory) throw error
    await makeDirectory(dirname(directory))
    await mkdir(directory).catch((again: NodeJS.ErrnoException) => { if (again.code !== 'EEXIST') throw again })
  }
}

/** $1 the file, $2 its directory, $3 the probe file. `: >> file` opens without writing anything. */
const CHECK_SCRIPT = `set -e
[ -d "$2" ] || mkdir -p -- "$2"
echo probe > "$3"
rm -f -- "$3"
if [ -e "$1" ]; then : >> "$1"; fi`

function checkInChildProcess (path: string, timeoutMs: number): Promise<void> {
  const directory = dirname(path)
  const probe = join(directory, `.${basename(path)}.probe-${process.pid}`)
  const child = spawn('sh', ['-c', CHECK_SCRIPT, 'dead-letter-check', path, directory, probe], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LC_ALL: 'C' }
  })
  let errors = ''
  child.stderr.setEncoding('utf8').on('data', (text: string) => { errors += text })
  const finished = new Promise<void>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code) => {
      if (code === 0) resolve()
      else reject(new Error(errors.trim().replace(/^dead-letter-check: (\d+: )?/, '') || `the check exited with ${code}`))
    })
  })
  return untilStalled(() => finished, timeoutMs).catch((error: unknown) => {
    child.kill('SIGKILL')
    throw error
  })
}

/** Runs the operation, rejecting when it has not called `progressed` for `timeoutMs`. */
function untilStalled<T> (operation: (progressed: () => void) => Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return new Promise<T>((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`the file system did not answer within ${timeoutMs} ms`)), timeoutMs)
    operation(() => timer?.refresh()).then(resolve, reject)
  }).finally(() => clearTimeout(timer))
}

/**
 * One JSON message per line. Each line starts with a newline: a line torn by a crash mid-append
 * stays alone on its line (and is skipped) instead of swallowing the next message appended
 * after the restart.
 */
function toLines (documents: MessageDocument[]): string {
  return documents.map((document) => '\n' + JSON.stringify({ ...document, _id: document._id.toHexString() })).join('') + '\n'
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
