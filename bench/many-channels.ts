// The many-channels part of `npm run bench` (--only many): N sockets each subscribed to K of C
// channels over one socket, P of them publishing, against a raw `ws` server with a room map (the
// ceiling) and Socket.IO with socket.join() of the same rooms; rounds interleaved, medians. Then
// one service instance alone: its memory with many subscribed sockets, opened in steps, and the
// heartbeat's CPU with them idle. Servers on the server core, generators on the load core, the
// service on the null sink.
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { median, table } from './report.js'
import { BENCH_JWT_SECRET, cpuSeconds, LOAD_CORE, pidOf, pinned, rssBytes, SERVER_CORE, SERVER_NODE_FLAGS, startProcess, USER_LIMITS_ABOVE_THE_BENCH, type Started } from './processes.js'
import { membersOf, type ManyConfig, type ManyResult, type RoomServerKind } from './many-scenario.js'

export interface ManyChannelsOptions {
  /** "N/K/C/P": sockets, channels per socket, channels, publishers. */
  scenario: string
  rounds: number
  quick: boolean
  durationMs: number
  warmupMs: number
  window: number
  payloadBytes: number
  /** Sockets of the memory and heartbeat measurements. */
  idleSockets: number
  /** The null sink's URI and the database name the service writes to. */
  mongoUri: string
  mongoDb: string
}

const KINDS: RoomServerKind[] = ['service', 'raw-ws-rooms', 'socket.io-rooms']
const TARGETS = { perCpuVsRaw: 1.5, perCpuVsSocketIo: 2, p99VsRaw: 1, kibPerSocket: 12 }
/** The memory measurement opens its sockets in this many steps, one generator process each. */
const MEMORY_STEPS = 5
const MEMORY_WARMUP_SOCKETS = 100
const dist = import.meta.dirname

/** The soft limit on open files, and the hard one it may be raised to. */
function fileLimits (): { soft: number, hard: number } {
  const match = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
  const value = (text: string | undefined) => text === undefined || text === 'unlimited' ? Infinity : Number(text)
  return { soft: value(match?.[1]), hard: value(match?.[2]) }
}

/** A command run with its soft open-file limit raised to the hard one (exec keeps the pid). */
function withFileLimit ([command, args]: [string, string[]]): [string, string[]] {
  const { soft, hard } = fileLimits()
  return soft >= hard ? [command, args] : ['sh', ['-c', 'ulimit -n "$(ulimit -Hn)" && exec "$@"', 'sh', command, ...args]]
}

function startServer (kind: RoomServerKind, options: ManyChannelsOptions, env: NodeJS.ProcessEnv = {}): Promise<Started> {
  if (kind === 'service') {
    return startProcess(withFileLimit(pinned(SERVER_CORE, process.execPath, [...SERVER_NODE_FLAGS, join(dist, '..', 'server.js')])), {
      ...USER_LIMITS_ABOVE_THE_BENCH,
      ...env,
      PORT: '0',
      HOST: '127.0.0.1',
      JWT_SECRET: BENCH_JWT_SECRET,
      MONGO_URI: options.mongoUri,
      MONGO_DB: options.mongoDb,
      DEAD_LETTER_FILE: join('bench-results', `dead-letter-${Date.now()}-${Math.random()}.jsonl`)
    }, /Server listening at http:\/\/127\.0\.0\.1:(\d+)/)
  }
  const file = kind === 'raw-ws-rooms' ? 'raw-ws-rooms.js' : 'socketio-rooms.js'
  return startProcess(withFileLimit(pinned(SERVER_CORE, process.execPath, [...SERVER_NODE_FLAGS, join(dist, 'servers', file)])), { PORT: '0' }, /^listening (\d+)/)
}

function spawnGenerator (config: ManyConfig) {
  return spawn(...withFileLimit(pinned(LOAD_CORE, process.execPath, [join(dist, 'many-generator.js'), JSON.stringify(config)])), { stdio: ['pipe', 'pipe', 'inherit'] })
}

interface Run extends ManyResult { server: RoomServerKind, round: number, serverCpuSeconds: number, deliveriesPerCpuSecond: number }

/** One run of the generator against a fresh server, the server's CPU sampled over the measured window. */
type Load = { window: number, rate?: undefined } | { rate: number, window?: undefined }

async function runOnce (kind: RoomServerKind, round: number, options: ManyChannelsOptions, load: Load): Promise<Run> {
  const [sockets, perSocket, channels, publishers] = options.scenario.split('/').map(Number) as [number, number, number, number]
  const server = await startServer(kind, options)
  try {
    const child = spawnGenerator({
      kind,
      port: server.port,
      first: 0,
      count: sockets,
      sockets,
      perSocket,
      channels,
      publishers,
      ...load,
      durationMs: options.durationMs,
      warmupMs: options.warmupMs,
      payloadBytes: options.payloadBytes,
      jwtSecret: kind === 'service' ? BENCH_JWT_SECRET : undefined
    })
    child.stdin!.end()
    let start: number | undefined
    let end: number | undefined
    let result: ManyResult | undefined
    for await (const line of createInterface({ input: child.stdout! })) {
      const message = JSON.parse(line)
      if (message.event === 'measure-start') start = cpuSeconds(pidOf(server))
      else if (message.event === 'measure-end') end = cpuSeconds(pidOf(server))
      else result = message
    }
    if (result === undefined || start === undefined || end === undefined) throw new Error(`the generator did not report (${kind})`)
    const cpu = end - start
    const deliveriesPerCpuSecond = Math.round(result.deliveredPerSecond * result.measuredSeconds / Math.max(cpu, 0.01))
    return { ...result, server: kind, round, serverCpuSeconds: cpu, deliveriesPerCpuSecond }
  } finally {
    await server.stop()
  }
}

/** Sockets held open and subscribed by idle generators; `close` ends them. */
interface Held { close (): Promise<void> }

async function idleSockets (server: Started, options: ManyChannelsOptions, first: number, count: number): Promise<Held> {
  const [, perSocket, channels] = options.scenario.split('/').map(Number) as [number, number, number]
  const child = spawnGenerator({
    kind: 'service',
    port: server.port,
    first,
    count,
    sockets: first + count,
    perSocket,
    channels,
    publishers: 0,
    durationMs: 0,
    warmupMs: 0,
    payloadBytes: 0,
    jwtSecret: BENCH_JWT_SECRET,
    idle: true
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  for await (const line of createInterface({ input: child.stdout! })) { if (line.includes('connected')) break }
  if (child.exitCode !== null) throw new Error('an idle generator exited before it connected')
  return {
    async close () {
      child.stdin!.end()
      await exited
    }
  }
}

/** The sockets of the memory and heartbeat measurements, opened in steps of one generator process each. */
async function openInSteps (server: Started, options: ManyChannelsOptions, afterStep: (sockets: number) => Promise<void> = async () => {}) {
  const generators: Held[] = []
  const step = Math.ceil(options.idleSockets / MEMORY_STEPS)
  for (let opened = 0; opened < options.idleSockets; opened += step) {
    const count = Math.min(step, options.idleSockets - opened)
    generators.push(await idleSockets(server, options, MEMORY_WARMUP_SOCKETS + opened, count))
    await afterStep(MEMORY_WARMUP_SOCKETS + opened + count)
  }
  return { close: () => Promise.all(generators.map((generator) => generator.close())) }
}

/** A gauge of the service's /metrics (prom-client's process metrics), or NaN. */
async function metric (server: Started, name: string): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${server.port}/metrics`).then((response) => response.text(), () => '')
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text)
  return match === null ? NaN : Number(match[1])
}

interface MemoryStep { round: number, sockets: number, subscriptions: number, rssBytes: number, heapUsedBytes: number }

/**
 * RSS and V8 heap of one service instance as subscribed sockets are added step by step, after a
 * warm-up of a few sockets (so one-off costs of the first ones are not spread over the rest) and
 * a settle after each step (so the garbage of the handshakes is collected).
 */
async function memorySteps (round: number, options: ManyChannelsOptions, settleMs: number): Promise<MemoryStep[]> {
  const [, perSocket] = options.scenario.split('/').map(Number) as [number, number]
  const server = await startServer('service', options)
  const steps: MemoryStep[] = []
  const measure = async (sockets: number) => {
    await sleep(settleMs)
    const subscriptions = await metric(server, 'chat_websocket_subscriptions')
    steps.push({ round, sockets, subscriptions, rssBytes: rssBytes(pidOf(server)), heapUsedBytes: await metric(server, 'nodejs_heap_size_used_bytes') })
    console.error(`many-channels memory round ${round + 1}: ${sockets} sockets, ${subscriptions} subscriptions, RSS ${(steps.at(-1)!.rssBytes / 2 ** 20).toFixed(1)} MiB`)
  }
  try {
    const warmup = await idleSockets(server, options, 0, MEMORY_WARMUP_SOCKETS)
    await measure(MEMORY_WARMUP_SOCKETS)
    const sockets = await openInSteps(server, options, measure)
    const expected = (MEMORY_WARMUP_SOCKETS + options.idleSockets) * perSocket
    if (steps.at(-1)!.subscriptions !== expected) console.error(`many-channels memory: ${steps.at(-1)!.subscriptions} subscriptions, expected ${expected}`)
    await sockets.close()
    await warmup.close()
    return steps
  } finally {
    await server.stop()
  }
}

interface HeartbeatRun { round: number, intervalMs: number, sockets: number, serverCpuPerSecond: number }

/** Server CPU per second with the idle sockets open, over whole ping intervals where they fit. */
async function heartbeatRun (round: number, intervalMs: number, options: ManyChannelsOptions, windowMs: number): Promise<HeartbeatRun> {
  const server = await startServer('service', options, { WS_PING_INTERVAL_MS: String(intervalMs) })
  try {
    const warmup = await idleSockets(server, options, 0, MEMORY_WARMUP_SOCKETS)
    const sockets = await openInSteps(server, options)
    await sleep(2_000)
    const before = cpuSeconds(pidOf(server))
    const started = performance.now()
    await sleep(windowMs)
    const serverCpuPerSecond = (cpuSeconds(pidOf(server)) - before) / ((performance.now() - started) / 1000)
    await sockets.close()
    await warmup.close()
    console.error(`many-channels heartbeat round ${round + 1}, every ${intervalMs} ms: ${serverCpuPerSecond.toFixed(4)} CPU-s/s`)
    return { round, intervalMs, sockets: options.idleSockets + MEMORY_WARMUP_SOCKETS, serverCpuPerSecond }
  } finally {
    await server.stop()
  }
}

function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** The rounds' median of each round's ratio of `value` against the server `other` of the same round. */
function ratioOf (runs: Run[], kind: RoomServerKind, other: RoomServerKind, value: (run: Run) => number): number {
  const sameRound = (run: Run) => runs.find((o) => o.server === other && o.round === run.round)!
  return median(runs.filter((run) => run.server === kind).map((run) => value(run) / value(sameRound(run))))
}

function summary (runs: Run[]) {
  return KINDS.map((kind) => {
    const group = runs.filter((run) => run.server === kind)
    return {
      server: kind,
      deliveredPerSecond: median(group.map((run) => run.deliveredPerSecond)),
      deliveriesPerCpuSecond: median(group.map((run) => run.deliveriesPerCpuSecond)),
      p50Ms: median(group.map((run) => run.latencyMs.p50)),
      p99Ms: median(group.map((run) => run.latencyMs.p99)),
      serverCpuPerSecond: median(group.map((run) => run.serverCpuSeconds / run.measuredSeconds)),
      generatorCpuPerSecond: median(group.map((run) => run.generatorCpuSeconds / run.measuredSeconds)),
      lost: group.reduce((sum, run) => sum + run.lost, 0),
      duplicates: group.reduce((sum, run) => sum + run.duplicates, 0),
      refused: group.reduce((sum, run) => sum + run.refused, 0)
    }
  })
}

export async function manyChannels (options: ManyChannelsOptions): Promise<void> {
  const [sockets, perSocket, channels, publishers] = options.scenario.split('/').map(Number) as [number, number, number, number]
  const members = membersOf(sockets, perSocket, channels)
  const deliveriesPerMessage = members.reduce((sum, count) => sum + count, 0) / channels
  // Other work on the machine shows in every timing: the load averages before and after say how much there was.
  const loadBefore = loadavg()
  const name = `${sockets} sockets × ${perSocket} of ${channels} channels, ${publishers} publishers`

  // 1. Closed loop at saturation.
  const closed: Run[] = []
  for (let round = 0; round < options.rounds; round++) {
    for (const kind of KINDS) {
      const run = await runOnce(kind, round, options, { window: options.window })
      closed.push(run)
      console.error(`many-channels closed round ${round + 1} ${kind}: ${run.deliveredPerSecond} deliveries/s, ${run.deliveriesPerCpuSecond} per CPU-s, lost ${run.lost}, duplicates ${run.duplicates}`)
    }
  }
  const closedRows = summary(closed)
  const closedRatios = (['raw-ws-rooms', 'socket.io-rooms'] as const).map((other) => {
    const perCpu = ratioOf(closed, 'service', other, (run) => run.deliveriesPerCpuSecond)
    const target = other === 'raw-ws-rooms' ? TARGETS.perCpuVsRaw : TARGETS.perCpuVsSocketIo
    return { against: other, throughput: ratioOf(closed, 'service', other, (run) => run.deliveredPerSecond), perCpu, target, met: perCpu >= target ? 'yes' : 'no' }
  })

  // 2. Half load: half of what raw ws rooms published at saturation in this run.
  const rawCapacity = median(closed.filter((run) => run.server === 'raw-ws-rooms').map((run) => run.deliveredPerSecond)) / deliveriesPerMessage
  const rate = Math.max(1, Math.round(rawCapacity / 2))
  const half: Run[] = []
  for (let round = 0; round < options.rounds; round++) {
    for (const kind of KINDS) {
      const run = await runOnce(kind, round, options, { rate })
      half.push(run)
      console.error(`many-channels half load round ${round + 1} ${kind}: p50 ${run.latencyMs.p50} ms, p99 ${run.latencyMs.p99} ms, lost ${run.lost}, duplicates ${run.duplicates}`)
    }
  }
  const halfRows = summary(half).map((row) => {
    const p99VsRaw = ratioOf(half, row.server, 'raw-ws-rooms', (run) => run.latencyMs.p99)
    return { ...row, p99VsRaw, met: row.server === 'service' ? (p99VsRaw <= TARGETS.p99VsRaw ? 'yes' : 'no') : '' }
  })

  // 3. Memory of one instance, sockets opened in steps.
  const memory: MemoryStep[] = []
  for (let round = 0; round < options.rounds; round++) memory.push(...await memorySteps(round, options, options.quick ? 2_000 : 10_000))
  const stepCounts = [...new Set(memory.map((step) => step.sockets))]
  const memoryRows = stepCounts.map((count, i) => {
    const at = memory.filter((step) => step.sockets === count)
    const margin = (field: 'rssBytes' | 'heapUsedBytes') => i === 0
      ? NaN
      : median(at.map((step) => {
        const previous = memory.find((other) => other.round === step.round && other.sockets === stepCounts[i - 1])!
        return (step[field] - previous[field]) / (count - stepCounts[i - 1]!) / 1024
      }))
    return {
      sockets: count,
      subscriptions: median(at.map((step) => step.subscriptions)),
      rssMiB: median(at.map((step) => step.rssBytes / 2 ** 20)),
      heapUsedMiB: median(at.map((step) => step.heapUsedBytes / 2 ** 20)),
      rssKiBPerSocketSincePrevious: margin('rssBytes'),
      heapKiBPerSocketSincePrevious: margin('heapUsedBytes')
    }
  })
  // The margin per socket from the first step to the last, as the single-channel figure was measured.
  const [firstStep, lastStep] = [stepCounts[1]!, stepCounts.at(-1)!]
  const perSocketFromFirstStep = (field: 'rssBytes' | 'heapUsedBytes') => median([...new Set(memory.map((step) => step.round))].map((round) => {
    const [from, to] = [firstStep, lastStep].map((count) => memory.find((step) => step.round === round && step.sockets === count)!)
    return (to![field] - from![field]) / (lastStep - firstStep) / 1024
  }))
  const memoryMargin = {
    from: firstStep,
    to: lastStep,
    rssKiBPerSocket: perSocketFromFirstStep('rssBytes'),
    heapKiBPerSocket: perSocketFromFirstStep('heapUsedBytes'),
    target: TARGETS.kibPerSocket,
    met: perSocketFromFirstStep('rssBytes') <= TARGETS.kibPerSocket ? 'yes' : 'no'
  }

  // 4. The heartbeat's CPU with the sockets idle: default interval, off, and a short one.
  const intervals = [25_000, 0, 1_000]
  const heartbeatWindowMs = options.quick ? 5_000 : 25_000
  const heartbeat: HeartbeatRun[] = []
  for (let round = 0; round < options.rounds; round++) {
    for (const intervalMs of intervals) heartbeat.push(await heartbeatRun(round, intervalMs, options, heartbeatWindowMs))
  }
  const heartbeatRows = intervals.map((intervalMs) => {
    const runs = heartbeat.filter((run) => run.intervalMs === intervalMs)
    const offOf = (run: HeartbeatRun) => heartbeat.find((off) => off.intervalMs === 0 && off.round === run.round)!
    const extra = median(runs.map((run) => run.serverCpuPerSecond - offOf(run).serverCpuPerSecond))
    const pingsPerSecond = intervalMs === 0 ? 0 : runs[0]!.sockets / (intervalMs / 1000)
    return {
      intervalMs: intervalMs === 0 ? 'off' : intervalMs,
      sockets: runs[0]!.sockets,
      serverCpuMsPerSecond: median(runs.map((run) => run.serverCpuPerSecond)) * 1000,
      overOffMsPerSecond: extra * 1000,
      usPerPing: pingsPerSecond === 0 ? NaN : (extra * 1e6) / pingsPerSecond
    }
  })

  table(`Many channels, closed loop, window ${options.window} (${name}; ${deliveriesPerMessage} deliveries per message; medians of ${options.rounds})`, closedRows)
  table('Many channels, the service against the baselines (medians of each round\'s ratio; target on perCpu)', closedRatios)
  table(`Many channels, half load: ${rate} messages/s, half of raw ws rooms' ${Math.round(rawCapacity)}/s at saturation (p99VsRaw: median of each round's ratio, target <= ${TARGETS.p99VsRaw})`, halfRows)
  table(`Many channels, memory of one service instance (${perSocket} of ${channels} channels per socket, ${MEMORY_WARMUP_SOCKETS} warm-up sockets, then the rest in steps; medians)`, memoryRows)
  table(`Many channels, memory per socket from ${firstStep} to ${lastStep} sockets (target <= ${TARGETS.kibPerSocket} KiB of RSS)`, [memoryMargin])
  table(`Many channels, heartbeat CPU with idle sockets (${heartbeatWindowMs / 1000} s windows; WS_PONG_TIMEOUT_MS default; medians)`, heartbeatRows)

  const load = { before: loadBefore, after: loadavg() }
  console.log(`many-channels load averages (1, 5, 15 min) before: ${load.before.map((n) => n.toFixed(2)).join(' ')}, after: ${load.after.map((n) => n.toFixed(2)).join(' ')}`)
  mkdirSync('bench-results', { recursive: true })
  const file = join('bench-results', `many-channels-${Date.now()}.json`)
  const { mongoUri: _, ...settings } = options
  const results = {
    settings, load, rate, closed, closedRows, closedRatios, half, halfRows, memory, memoryRows, memoryMargin, heartbeat, heartbeatRows
  }
  writeFileSync(file, JSON.stringify(results, null, 2))
  console.log(`many-channels results: ${file}`)
}
