import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'

export interface EmbeddedMongo {
  uri: string
  pid: number
  stop (): Promise<void>
}

const STOP_GRACE_MS = 2_000

const packageName = '@jongodb/memory-server-bin-linux-x64-gnu'

/** Path of the jongodb binary, a MongoDB-wire-compatible in-memory server shipped on npm. */
export function jongodbBinary (): string {
  try {
    const manifest = createRequire(import.meta.url).resolve(`${packageName}/package.json`)
    return join(dirname(manifest), 'bin', 'jongodb')
  } catch {
    throw new Error(`No MONGO_URI is set and ${packageName} is not installed (it exists for linux-x64 glibc only): set MONGO_URI to a MongoDB server`)
  }
}

/**
 * Starts jongodb on a free port of 127.0.0.1 and resolves once it accepts connections.
 * It keeps data in memory only and has no change streams or capped collections.
 *
 * It never outlives this process: it is killed on exit, however the exit comes (process.exit
 * from a close timer included), and, where util-linux's setpriv is installed, by the kernel
 * when this process dies without exiting (SIGKILL, the OOM killer).
 */
export async function startEmbeddedMongo (port = 0, startTimeoutMs = 30_000): Promise<EmbeddedMongo> {
  const [command, args] = killedWithParent(jongodbBinary(), ['--host=127.0.0.1', `--port=${port}`])
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  const killOnExit = (): void => { child.kill('SIGKILL') }
  process.once('exit', killOnExit)
  child.once('exit', () => process.removeListener('exit', killOnExit))
  const uri = await announcedUri(child, startTimeoutMs)
  return { uri, pid: child.pid!, stop: () => stopChild(child) }
}

let hasSetpriv: boolean | undefined

/**
 * The command run through `setpriv --pdeathsig KILL`, which makes the kernel kill it when its
 * parent dies (setpriv sets the flag and execs the command, so the pid stays the same). The
 * signal follows the thread that spawned the child: spawn from the main thread, not a worker.
 */
function killedWithParent (command: string, args: string[]): [string, string[]] {
  hasSetpriv ??= spawnSync('setpriv', ['--version']).error === undefined
  return hasSetpriv ? ['setpriv', ['--pdeathsig', 'KILL', '--', command, ...args]] : [command, args]
}

function announcedUri (child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! })
    const fail = (error: Error): void => {
      clearTimeout(timer)
      lines.close()
      child.kill('SIGKILL')
      reject(error)
    }
    const timer = setTimeout(() => fail(new Error(`jongodb did not start within ${timeoutMs} ms`)), timeoutMs)
    const exitedEarly = (code: number | null): void => fail(new Error(`jongodb exited with code ${code} before it started`))
    child.once('error', fail)
    child.once('exit', exitedEarly)
    lines.on('line', (line) => {
      const match = /^JONGODB_URI=mongodb:\/\/([^/]+)\//.exec(line)
      if (match === null) return
      clearTimeout(timer)
      child.removeListener('exit', exitedEarly)
      child.removeListener('error', fail)
      // Keep reading so a chatty server never blocks on a full pipe.
      lines.removeAllListeners('line')
      lines.on('line', () => {})
      resolve(`mongodb://${match[1]}/?directConnection=true`)
    })
  })
}

function stopChild (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
    setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS).unref()
  })
}
