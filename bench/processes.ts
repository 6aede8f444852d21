// Starting the processes of a benchmark run, pinned to a core, and reading their CPU and memory.
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { createInterface } from 'node:readline'

const CLOCK_TICKS_PER_SECOND = 100

/** Servers run on this core, load generators (and the databases) on the other. */
export const SERVER_CORE = 0
export const LOAD_CORE = 1
/**
 * V8 flags of every server process of a bench, the service's as `npm start` and the Dockerfile
 * run it: a young generation large enough that messages in flight (across a Redis round trip, or
 * waiting in the write queue) die before a scavenge has to copy them. The baselines get the same.
 */
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=64']
/** The per-user limits stay on (their cost is measured) but far above what one bench user sends or opens. */
export const USER_LIMITS_ABOVE_THE_BENCH = { USER_MESSAGE_RATE: '1000000', USER_MESSAGE_BURST: '1000000', USER_MAX_CONNECTIONS: '1000000' }
/** The HS256 secret of every bench's service and of the tokens its generators sign. */
export const BENCH_JWT_SECRET = 'bench-secret-bench-secret-bench-secret'

/** `taskset -c <core>` where the machine has that core, so server and generator do not compete. */
export function pinned (core: number, command: string, args: string[]): [string, string[]] {
  return availableParallelism() > core ? ['taskset', ['-c', String(core), command, ...args]] : [command, args]
}

export interface Started {
  child: ChildProcess
  port: number
  lines: AsyncIterableIterator<string>
  stop (): Promise<void>
}

/** Spawns a process and resolves with the port its first matching output line names. */
export async function startProcess (command: [string, string[]], env: NodeJS.ProcessEnv, portPattern: RegExp): Promise<Started> {
  const child = spawn(command[0], command[1], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  let port: number | undefined
  while (port === undefined) {
    const { value, done } = await lines.next()
    if (done) throw new Error(`${command.join(' ')} exited before it listened`)
    const match = portPattern.exec(value)
    if (match) port = Number(match[1])
  }
  // Keep draining stdout so the child never blocks on a full pipe.
  void (async () => { while (!(await lines.next()).done) { /* discard */ } })().catch(() => {})
  return {
    child,
    port,
    lines,
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
      setTimeout(() => child.kill('SIGKILL'), 15_000).unref()
    })
  }
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds (pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND
}

/** Write system calls (write, writev, send...) a process has made so far: most of a delivery's cost is its write. */
export function writeSyscalls (pid: number): number {
  const match = /syscw:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))
  return Number(match?.[1] ?? 0)
}

/** Resident memory of a process, in bytes. */
export function rssBytes (pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(match?.[1] ?? 0) * 1024
}

/** The real process behind `taskset`, which execs it (same pid). */
export function pidOf (started: Started): number {
  return started.child.pid!
}
