// npm run bench -- [--scenario S/C/P ...] [--window 8] [--duration 5] [--rounds 3]
//                  [--payload 64] [--idle 10000] [--persist-seconds 60] [--quick]
//                  [--only closed,open,persistence,idle,cluster,metrics,features,half,redis,many] [--scrape-every 5]
//                  [--many 2000/20/500/100]
//                  [--variants plain,client-ids,...] [--sink jongodb|null] [--half-rate 4000] [--steady-warmup 5] [--profile]
// Interleaves the service and three minimal broadcast servers (raw `ws`, Fastify with
// @fastify/websocket, Socket.IO) on the same scenarios, servers pinned to core 0 and the
// generator (and jongodb) to core 1. Beside its JSON, an SVG chart per scenario (bench/charts.ts).
// The half-load and Redis parts always run against the null sink (bench/null-mongo.ts), so
// they measure the service's own work; --sink null puts every part on it.
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { MongoClient } from 'mongodb'
import { writeCharts } from './charts.js'
import { benchMongoUri, janitor as collectionJanitor, type Sink } from './database.js'
import { manyChannels } from './many-channels.js'
import { median, table } from './report.js'
import { hasRedisServer, whyNoRedisCluster } from './redis-cli.js'
import { CLUSTER_SIZE, startRedis, startRedisCluster, type BenchRedis } from './redis-servers.js'
import type { GeneratorConfig, GeneratorResult, ServerKind } from './generator.js'
import { BENCH_JWT_SECRET, cpuSeconds, LOAD_CORE, pidOf, pinned, rssBytes, writeSyscalls, SERVER_CORE, SERVER_NODE_FLAGS, startProcess, USER_LIMITS_ABOVE_THE_BENCH, type Started } from './processes.js'

const CLUSTER_RATE = 2_000
const IDLE_SETTLE_MS = Number(process.env.BENCH_IDLE_SETTLE_MS ?? 10_000)
const IDLE_WARMUP_CONNECTIONS = 100
const DB = 'chat_bench'
const dist = import.meta.dirname

const { values: flags } = parseArgs({
  options: {
    scenario: { type: 'string', multiple: true },
    window: { type: 'string', default: '8' },
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    payload: { type: 'string', default: '64' },
    idle: { type: 'string', default: '10000' },
    'persist-seconds': { type: 'string', default: '60' },
    servers: { type: 'string', default: 'service,raw-ws,fastify-ws,socket.io' },
    only: { type: 'string', default: 'closed,open,persistence,idle,cluster,metrics,features,half,redis,many' },
    // The many-channels part: sockets / channels each socket subscribes to / channels / publishers.
    many: { type: 'string', default: '2000/20/500/100' },
    variants: { type: 'string', default: 'plain,client-ids,ack-after-store' },
    rate: { type: 'string' },
    sink: { type: 'string', default: 'jongodb' },
    'half-rate': { type: 'string', default: '4000' },
    // The half-load and Redis parts measure a steady state: the JIT still compiles for seconds after start.
    'steady-warmup': { type: 'string', default: '5' },
    // Writes a V8 CPU profile of every server process into bench-results/profiles/<server>.
    profile: { type: 'boolean', default: false },
    'scrape-every': { type: 'string', default: '5' },
    quick: { type: 'boolean', default: false }
  }
})
const quick = flags.quick
const scenarios = (flags.scenario ?? ['1000/100/100', '4000/200/100']).map((text) => {
  const [subscribers, channels, publishers] = text.split('/').map(Number) as [number, number, number]
  return { name: text, subscribers, channels, publishers }
})
const rounds = quick ? 1 : Number(flags.rounds)
const durationMs = (quick ? 2 : Number(flags.duration)) * 1000
const steadyWarmupMs = (quick ? 1 : Number(flags['steady-warmup'])) * 1000
const persistMs = (quick ? 10 : Number(flags['persist-seconds'])) * 1000
const idleConnections = quick ? 2000 : Number(flags.idle)
const servers = flags.servers.split(',') as ServerKind[]

/** Configurations of the service compared in one run (the `features` part): each adds a feature to the plain service. */
interface Variant { env?: NodeJS.ProcessEnv, clientIds?: boolean, presence?: boolean }
const VARIANTS: Record<string, Variant> = {
  plain: {},
  // Every frame has a clientId and the closed loop waits for acks, as a client that resends until acked does.
  'client-ids': { clientIds: true },
  'ack-after-store': { env: { ACK_AFTER_STORE: 'true' }, clientIds: true },
  // The per-user limits off, against the default runs, where they are on but set above what the bench sends.
  'no-user-limits': { env: { USER_MESSAGE_RATE: '0', USER_MAX_CONNECTIONS: '0' } },
  // The write window that is the default with ACK_AFTER_STORE (50 ms without), and the earlier default.
  'window-5': { env: { WRITE_BATCH_WINDOW_MS: '5' } },
  'window-20': { env: { WRITE_BATCH_WINDOW_MS: '20' } },
  // Every socket asks for its channel's presence frames: the presence list, then joins and leaves.
  presence: { presence: true }
}
const variants = flags.variants.split(',').map((name) => {
  const variant = VARIANTS[name]
  if (variant === undefined) throw new Error(`unknown variant ${name}; known: ${Object.keys(VARIANTS).join(', ')}`)
  return { name, ...variant }
})
const parts = new Set(flags.only.split(','))

// ---- MongoDB: a sink on the load core, emptied from here, never by the service ----
interface Database { uri: string, client: MongoClient, janitor (): ReturnType<typeof collectionJanitor> }
async function database (sink: Sink): Promise<Database> {
  const uri = await benchMongoUri(LOAD_CORE, sink)
  const client = new MongoClient(uri)
  const collection = client.db(DB).collection('messages')
  return { uri, client, janitor: () => collectionJanitor(collection) }
}
const main = await database(flags.sink as Sink)
let nullSink: Database | undefined
const nullDatabase = async (): Promise<Database> => flags.sink === 'null' ? main : (nullSink ??= await database('null'))

async function startServer (kind: ServerKind, env: NodeJS.ProcessEnv = {}, db: Database = main): Promise<Started> {
  const profile = flags.profile ? ['--cpu-prof', '--cpu-prof-interval', process.env.BENCH_PROFILE_INTERVAL_US ?? '1000', '--cpu-prof-dir', join('bench-results', 'profiles', kind)] : []
  if (kind === 'service') {
    return startProcess(pinned(SERVER_CORE, process.execPath, [...SERVER_NODE_FLAGS, ...profile, join(dist, '..', 'server.js')]), {
      ...USER_LIMITS_ABOVE_THE_BENCH,
      ...env,
      PORT: '0',
      HOST: '127.0.0.1',
      JWT_SECRET: BENCH_JWT_SECRET,
      MONGO_URI: db.uri,
      MONGO_DB: DB,
      DEAD_LETTER_FILE: join('bench-results', `dead-letter-${Date.now()}-${Math.random()}.jsonl`)
    }, /Server listening at http:\/\/127\.0\.0\.1:(\d+)/)
  }
  const file = ({ 'raw-ws': 'raw-ws.js', 'fastify-ws': 'fastify-ws.js', 'socket.io': 'socketio.js' } as const)[kind]
  return startProcess(pinned(SERVER_CORE, process.execPath, [...SERVER_NODE_FLAGS, ...profile, join(dist, 'servers', file)]), { PORT: '0' }, /^listening (\d+)/)
}

interface Sample { cpuSeconds: number, rssBytes: number, writes: number }
interface RunResult extends GeneratorResult {
  server: ServerKind
  scenario: string
  serverCpuSeconds: number
  serverRssBytes: number
  serverWrites: number
  deliveriesPerCpuSecond: number
  stored?: number
  peakQueueDepth?: number
  generatorSaturated: boolean
}

interface Generated { result: GeneratorResult, cpu: number, rss: number, writes: number }

/** Runs the generator against a server, sampling the server's CPU over the measured window. */
async function generate (server: Started, config: GeneratorConfig, others: Started[] = []): Promise<Generated> {
  const child = spawn(...pinned(LOAD_CORE, process.execPath, [join(dist, 'generator.js'), JSON.stringify(config)]), { stdio: ['ignore', 'pipe', 'inherit'] })
  let start: Sample | undefined
  let end: Sample | undefined
  let result: GeneratorResult | undefined
  const pids = [server, ...others].map(pidOf)
  const sample = (): Sample => ({
    cpuSeconds: pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0),
    rssBytes: pids.reduce((sum, pid) => sum + rssBytes(pid), 0),
    writes: pids.reduce((sum, pid) => sum + writeSyscalls(pid), 0)
  })
  for await (const line of createInterface({ input: child.stdout! })) {
    const message = JSON.parse(line)
    if (message.event === 'measure-start') start = sample()
    else if (message.event === 'measure-end') end = sample()
    else result = message
  }
  if (result === undefined || start === undefined || end === undefined) throw new Error('the generator did not report')
  return { result, cpu: end.cpuSeconds - start.cpuSeconds, rss: end.rssBytes, writes: end.writes - start.writes }
}

async function queueDepth (server: Started): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${server.port}/ready`).then((r) => r.json() as Promise<{ queueDepth: number }>, () => ({ queueDepth: -1 }))
  return response.queueDepth
}

/** `watchQueue` polls /ready for the peak queue depth: only where it is reported, as the service logs each request. */
async function runOnce (
  kind: ServerKind,
  scenario: typeof scenarios[number],
  load: { window?: number, rate?: number, warmupMs?: number },
  runMs = durationMs,
  variant: Variant = {},
  db: Database = main,
  watchQueue = false
): Promise<RunResult> {
  const server = await startServer(kind, variant.env, db)
  const sweep = kind === 'service' ? db.janitor() : undefined
  let peakQueueDepth = 0
  const poller = kind === 'service' && watchQueue ? setInterval(() => { queueDepth(server).then((depth) => { peakQueueDepth = Math.max(peakQueueDepth, depth) }, () => {}) }, 250) : undefined
  try {
    const { result, cpu, rss, writes } = await generate(server, {
      kind,
      port: server.port,
      ...scenario,
      ...load,
      durationMs: runMs,
      warmupMs: load.warmupMs ?? 1000,
      payloadBytes: Number(flags.payload),
      jwtSecret: kind === 'service' ? BENCH_JWT_SECRET : undefined,
      clientIds: variant.clientIds,
      windowOnAck: variant.clientIds,
      presence: variant.presence
    })
    let stored: number | undefined
    if (kind === 'service') {
      clearInterval(poller)
      while (await queueDepth(server) > 0) await new Promise((resolve) => setTimeout(resolve, 100))
      stored = await sweep!.stop()
    }
    const deliveredInWindow = result.deliveredPerSecond * result.measuredSeconds
    return {
      server: kind,
      scenario: scenario.name,
      ...result,
      serverCpuSeconds: cpu,
      serverRssBytes: rss,
      serverWrites: writes,
      deliveriesPerCpuSecond: Math.round(deliveredInWindow / Math.max(cpu, 0.01)),
      stored,
      peakQueueDepth: kind === 'service' ? peakQueueDepth : undefined,
      // A generator that used (nearly) a whole core measured itself, not the server.
      generatorSaturated: result.generatorCpuSeconds / result.measuredSeconds > 0.95
    }
  } finally {
    clearInterval(poller)
    await server.stop()
  }
}

type Side = 'on' | 'off'
interface PairRun { deliveredPerSecond: number, deliveriesPerCpuSecond: number, p99Ms: number, lost: number, generatorCoreShare: number }

/**
 * Medians over the rounds of side-by-side runs; ratios are medians of each round's ratio, as a
 * round's two sides ran under the same conditions.
 */
function pairSummary (pairs: ReadonlyArray<Record<Side, PairRun>>) {
  return {
    onPerSecond: median(pairs.map((pair) => pair.on.deliveredPerSecond)),
    offPerSecond: median(pairs.map((pair) => pair.off.deliveredPerSecond)),
    throughputOnVsOff: median(pairs.map((pair) => pair.on.deliveredPerSecond / pair.off.deliveredPerSecond)),
    perCpuOnVsOff: median(pairs.map((pair) => pair.on.deliveriesPerCpuSecond / pair.off.deliveriesPerCpuSecond)),
    p99OnMs: median(pairs.map((pair) => pair.on.p99Ms)),
    p99OffMs: median(pairs.map((pair) => pair.off.p99Ms)),
    lost: pairs.reduce((sum, pair) => sum + pair.on.lost + pair.off.lost, 0),
    // The two generators' CPU together, as a share of the load core: near 1, they measured themselves.
    generatorsBusy: median(pairs.map((pair) => pair.on.generatorCoreShare + pair.off.generatorCoreShare))
  }
}

/**
 * The service in two configurations at the same time, both on the server core, each under its
 * own generator: whatever else loads the machine loads both alike, and the core is shared
 * evenly, so the difference in deliveries is the cost of what the "on" side adds. `during`
 * runs alongside and returns its own stop.
 */
async function sideBySide (
  scenario: typeof scenarios[number],
  env: Record<Side, NodeJS.ProcessEnv>,
  onStartsFirst: boolean,
  options: { db?: Database, warmupMs?: number, during?: (servers: Record<Side, Started>) => () => void } = {}
): Promise<Record<Side, PairRun>> {
  const { db = main, warmupMs = 1000, during } = options
  // Two identical services side by side differ by 1-2% in the order they started, so rounds alternate it.
  const start = (side: Side) => startServer('service', env[side], db)
  const [first, second] = onStartsFirst ? [await start('on'), await start('off')] : [await start('off'), await start('on')]
  const servers = onStartsFirst ? { on: first, off: second } : { on: second, off: first }
  const sweep = db.janitor()
  const stopDuring = during?.(servers)
  try {
    const runs = await Promise.all((['on', 'off'] as const).map(async (side): Promise<PairRun> => {
      const server = servers[side]
      const { result, cpu } = await generate(server, {
        kind: 'service',
        port: server.port,
        ...scenario,
        window: Number(flags.window),
        durationMs,
        warmupMs,
        payloadBytes: Number(flags.payload),
        jwtSecret: BENCH_JWT_SECRET
      })
      const delivered = result.deliveredPerSecond * result.measuredSeconds
      return {
        deliveredPerSecond: result.deliveredPerSecond,
        deliveriesPerCpuSecond: Math.round(delivered / Math.max(cpu, 0.01)),
        p99Ms: result.latencyMs.p99,
        lost: result.lost,
        generatorCoreShare: result.generatorCpuSeconds / result.measuredSeconds
      }
    }))
    for (const server of Object.values(servers)) {
      while (await queueDepth(server) > 0) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    return { on: runs[0]!, off: runs[1]! }
  } finally {
    stopDuring?.()
    await sweep.stop()
    await Promise.all(Object.values(servers).map((server) => server.stop()))
  }
}

/** The service with METRICS on and off side by side, /metrics scraped as --scrape-every says. */
function metricsPair (scenario: typeof scenarios[number], onStartsFirst: boolean): Promise<Record<Side, PairRun>> {
  // Prometheus is commonly set to scrape every 15 s (its own default is 1 min); --scrape-every 1
  // shows what frequent scrapes cost (prom-client's process metrics walk every handle and fd).
  const scrapeEveryMs = Number(flags['scrape-every']) * 1000
  const scrape = (servers: Record<Side, Started>) => {
    const scraper = setInterval(() => {
      for (const server of Object.values(servers)) fetch(`http://127.0.0.1:${server.port}/metrics`).then((response) => response.arrayBuffer(), () => {})
    }, scrapeEveryMs)
    return () => clearInterval(scraper)
  }
  return sideBySide(scenario, { on: { METRICS: 'true' }, off: { METRICS: 'false' } }, onStartsFirst, { during: scrapeEveryMs > 0 ? scrape : undefined })
}

/** Opens `count` idle authenticated sockets to the server from the load core; `close` ends them. */
async function idleSockets (kind: ServerKind, server: Started, count: number): Promise<{ close (): Promise<void> }> {
  if (count === 0) return { close: async () => {} }
  const child = spawn(...pinned(LOAD_CORE, process.execPath, [join(dist, 'generator.js'), JSON.stringify({
    kind,
    port: server.port,
    subscribers: count,
    channels: Math.ceil(count / 10),
    publishers: 0,
    durationMs: 0,
    warmupMs: 0,
    payloadBytes: 0,
    idle: true,
    jwtSecret: kind === 'service' ? BENCH_JWT_SECRET : undefined
  } satisfies GeneratorConfig)]), { stdio: ['pipe', 'pipe', 'inherit'] })
  for await (const line of createInterface({ input: child.stdout! })) { if (line.includes('connected')) break }
  return {
    async close () {
      child.stdin!.end()
      await new Promise((resolve) => child.once('exit', resolve))
    }
  }
}

interface IdleRss { server: ServerKind, connections: number, baselineBytes: number, bytesPerConnection: number }

async function idleRss (kind: ServerKind): Promise<IdleRss> {
  const server = await startServer(kind)
  try {
    // A few connections first, so that one-off costs of the first ones (crypto worker threads
    // and their allocator arenas, lazily compiled code) are in the baseline, not spread over all.
    const warmup = await idleSockets(kind, server, IDLE_WARMUP_CONNECTIONS)
    await new Promise((resolve) => setTimeout(resolve, 500))
    const baseline = rssBytes(pidOf(server))
    const sockets = await idleSockets(kind, server, idleConnections)
    // Let the garbage of 10,000 handshakes be collected: what stays is what connections hold.
    await new Promise((resolve) => setTimeout(resolve, IDLE_SETTLE_MS))
    const loaded = rssBytes(pidOf(server))
    await sockets.close()
    await warmup.close()
    return {
      server: kind,
      connections: idleConnections,
      baselineBytes: baseline,
      bytesPerConnection: Math.round((loaded - baseline) / idleConnections)
    }
  } finally {
    await server.stop()
  }
}

/** Server CPU per GET /metrics with this many sockets open, beside a GET /health. */
async function scrapeCost (connections: number): Promise<{ connections: number, metricsCpuMs: number, healthCpuMs: number }> {
  const server = await startServer('service')
  const sockets = await idleSockets('service', server, connections)
  try {
    const cpuMsPerRequest = async (path: string, requests = 200): Promise<number> => {
      const before = cpuSeconds(pidOf(server))
      for (let i = 0; i < requests; i++) await fetch(`http://127.0.0.1:${server.port}${path}`).then((response) => response.arrayBuffer())
      return ((cpuSeconds(pidOf(server)) - before) * 1000) / requests
    }
    return { connections, healthCpuMs: await cpuMsPerRequest('/health'), metricsCpuMs: await cpuMsPerRequest('/metrics') }
  } finally {
    await sockets.close()
    await server.stop()
  }
}

/** The rounds of each configuration, in first-seen order. */
function groupBy<T> (items: T[], key: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>()
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item])
  return [...groups.values()]
}

/** Medians of the rates and latencies of a group of runs. */
function rateMedians (group: RunResult[]) {
  return {
    deliveredPerSecond: median(group.map((run) => run.deliveredPerSecond)),
    deliveriesPerCpuSecond: median(group.map((run) => run.deliveriesPerCpuSecond)),
    p50Ms: median(group.map((run) => run.latencyMs.p50)),
    p99Ms: median(group.map((run) => run.latencyMs.p99)),
    maxMs: median(group.map((run) => run.latencyMs.max))
  }
}

/** How busy the server's core and the generator were: a side well under 1 was not what limited the run. */
function cpuPerSecond (group: RunResult[]): { serverCpuPerSecond: number, generatorCpuPerSecond: number } {
  return {
    serverCpuPerSecond: median(group.map((run) => run.serverCpuSeconds / run.measuredSeconds)),
    generatorCpuPerSecond: median(group.map((run) => run.generatorCpuSeconds / run.measuredSeconds))
  }
}

function summarize (runs: RunResult[]) {
  return groupBy(runs, (run) => `${run.scenario} ${run.server}`).map((group) => ({
    scenario: group[0]!.scenario,
    server: group[0]!.server,
    ...rateMedians(group),
    ...cpuPerSecond(group),
    serverRssMiB: median(group.map((run) => run.serverRssBytes / 2 ** 20)),
    lost: group.reduce((sum, run) => sum + run.lost, 0),
    refused: group.reduce((sum, run) => sum + run.refused, 0),
    stored: group.some((run) => run.stored !== undefined) ? group.reduce((sum, run) => sum + (run.stored ?? 0), 0) : undefined,
    accepted: group.reduce((sum, run) => sum + run.published - run.refused, 0),
    generatorSaturated: group.some((run) => run.generatorSaturated)
  }))
}

// ---- the run ----
const closedLoop: RunResult[] = []
for (let round = 0; round < (parts.has('closed') || parts.has('open') ? rounds : 0); round++) {
  for (const scenario of scenarios) {
    for (const kind of servers) {
      const result = await runOnce(kind, scenario, { window: Number(flags.window) })
      closedLoop.push(result)
      console.error(`round ${round + 1} ${scenario.name} ${kind}: ${result.deliveredPerSecond} deliveries/s, lost ${result.lost}${result.generatorSaturated ? ' (generator saturated)' : ''}`)
    }
  }
}
const closedSummary = summarize(closedLoop)
const ratios = closedSummary.filter((row) => row.server !== 'raw-ws').map((row) => {
  const raw = closedSummary.find((other) => other.scenario === row.scenario && other.server === 'raw-ws')
  if (raw === undefined) return { scenario: row.scenario, server: row.server }
  return {
    scenario: row.scenario,
    server: row.server,
    throughputVsRaw: row.deliveredPerSecond / raw.deliveredPerSecond,
    perCpuVsRaw: row.deliveriesPerCpuSecond / raw.deliveriesPerCpuSecond
  }
})

// Open loop at half the service's maximum publish rate, where latency means something.
const openLoop: RunResult[] = []
for (const scenario of parts.has('open') ? scenarios : []) {
  const serviceMax = median(closedLoop.filter((run) => run.server === 'service' && run.scenario === scenario.name)
    .map((run) => run.deliveredPerSecond / (scenario.subscribers / scenario.channels)))
  const rate = flags.rate !== undefined ? Number(flags.rate) : Math.round(serviceMax / 2)
  for (let round = 0; round < rounds; round++) {
    for (const kind of servers) openLoop.push({ ...await runOnce(kind, scenario, { rate }), scenario: `${scenario.name} @${rate}/s` })
  }
}
const openSummary = summarize(openLoop)

// Persistence at the service's maximum rate: the queue must stay flat, every message stored.
const first = scenarios[0]!
const persistence = parts.has('persistence') ? await runOnce('service', first, { window: Number(flags.window) }, persistMs, {}, main, true) : undefined

const idle = parts.has('idle') ? [await idleRss('service'), await idleRss('raw-ws')] : []

// The cost of metrics: METRICS on against off, side by side in the same run.
const metricsRounds: Array<{ scenario: string } & Record<Side, PairRun>> = []
for (let round = 0; round < (parts.has('metrics') ? rounds : 0); round++) {
  for (const scenario of scenarios) {
    const { on, off } = await metricsPair(scenario, round % 2 === 0)
    metricsRounds.push({ scenario: scenario.name, on, off })
    console.error(`round ${round + 1} ${scenario.name} metrics on/off: ${on.deliveredPerSecond}/${off.deliveredPerSecond} deliveries/s`)
  }
}
const scrapes = parts.has('metrics') ? [await scrapeCost(0), await scrapeCost(idleConnections)] : []
const metricsCost = groupBy(metricsRounds, (pair) => pair.scenario)
  .map((group) => ({ scenario: group[0]!.scenario, ...pairSummary(group) }))

// Two service instances sharing Redis (and MongoDB) against one instance, same CPU budget
// (both on the server core), same load: sockets alternate between the instances. Once on one
// Redis (REDIS_URL), once on a three-master Redis Cluster (REDIS_CLUSTER_NODES: sharded pub/sub),
// interleaved; every redis-server on the load core.
const cluster = parts.has('cluster') && hasRedisServer() ? await clusterRuns() : []

async function clusterRuns () {
  const setups: Array<{ redis: string, server: BenchRedis }> = []
  const scenario = scenarios[0]!
  const rows = []
  try {
    setups.push({ redis: 'one', server: await startRedis() })
    const noCluster = whyNoRedisCluster()
    if (noCluster === undefined) setups.push({ redis: `cluster of ${CLUSTER_SIZE}`, server: await startRedisCluster() })
    else console.error(`across instances: no Redis Cluster rows, as ${noCluster}`)
    for (let round = 0; round < rounds; round++) {
      for (const { redis, server: redisServer } of setups) {
        for (const instances of [1, 2]) {
          const started = await Promise.all(Array.from({ length: instances }, () => startServer('service', redisServer.env)))
          const sweep = main.janitor()
          try {
            for (const load of [{ window: Number(flags.window) }, { rate: CLUSTER_RATE }]) {
              const redisCpuBefore = redisCpuSeconds(redisServer)
              const { result, cpu } = await generate(started[0]!, {
                kind: 'service',
                port: started[0]!.port,
                ports: started.map((server) => server.port),
                ...scenario,
                ...load,
                durationMs,
                warmupMs: 1000,
                payloadBytes: Number(flags.payload),
                jwtSecret: BENCH_JWT_SECRET
              }, started.slice(1))
              rows.push({
                redis,
                instances,
                load: load.window !== undefined ? `closed, window ${load.window}` : `open, ${CLUSTER_RATE}/s`,
                deliveredPerSecond: result.deliveredPerSecond,
                p50Ms: result.latencyMs.p50,
                p99Ms: result.latencyMs.p99,
                serverCpuPerSecond: cpu / result.measuredSeconds,
                // Over the whole run, warm-up included: what Redis spends per message it orders and publishes.
                redisCpuUsPerMessage: redisCpuUsPerMessageSince(redisServer, redisCpuBefore, result.published),
                lost: result.lost
              })
              console.error(`cluster round ${round + 1} redis ${redis}, ${instances} instance(s), ${rows.at(-1)!.load}: ${result.deliveredPerSecond} deliveries/s, lost ${result.lost}`)
            }
          } finally {
            await sweep.stop()
            await Promise.all(started.map((server) => server.stop()))
          }
        }
      }
    }
  } finally {
    for (const { server } of setups) server.stop()
  }
  return groupBy(rows, (row) => `${row.redis} ${row.instances} ${row.load}`).map((group) => ({
    redis: group[0]!.redis,
    instances: group[0]!.instances,
    load: group[0]!.load,
    deliveredPerSecond: median(group.map((row) => row.deliveredPerSecond)),
    p50Ms: median(group.map((row) => row.p50Ms)),
    p99Ms: median(group.map((row) => row.p99Ms)),
    serverCpuPerSecond: median(group.map((row) => row.serverCpuPerSecond)),
    redisCpuUsPerMessage: median(group.map((row) => row.redisCpuUsPerMessage)),
    lost: group.reduce((sum, row) => sum + row.lost, 0)
  }))
}

function redisCpuSeconds (redis: BenchRedis): number {
  return redis.pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0)
}

/** The CPU (µs) all of Redis's processes used per published message since `cpuBefore` (from redisCpuSeconds). */
function redisCpuUsPerMessageSince (redis: BenchRedis, cpuBefore: number, published: number): number {
  return ((redisCpuSeconds(redis) - cpuBefore) * 1e6) / Math.max(1, published)
}

// The cost of each feature: the plain service against itself with the feature on, interleaved.
const features: Array<RunResult & { variant: string, load: string }> = []
if (parts.has('features')) {
  const scenario = scenarios[0]!
  for (let round = 0; round < rounds; round++) {
    for (const variant of variants) {
      features.push({ ...await runOnce('service', scenario, { window: Number(flags.window) }, durationMs, variant), variant: variant.name, load: `closed, window ${flags.window}` })
    }
  }
  const plainMax = median(features
    .filter((run) => run.variant === variants[0]!.name)
    .map((run) => run.deliveredPerSecond / (scenario.subscribers / scenario.channels)))
  const rate = flags.rate !== undefined ? Number(flags.rate) : Math.round(plainMax / 2)
  for (let round = 0; round < rounds; round++) {
    for (const variant of variants) {
      features.push({ ...await runOnce('service', scenario, { rate }, durationMs, variant), variant: variant.name, load: `open, ${rate}/s` })
    }
  }
}
const featureSummary = groupBy(features, (run) => `${run.load} ${run.variant}`).map((group) => {
  const { load, variant } = group[0]!
  const baseline = features.filter((run) => run.load === load && run.variant === variants[0]!.name)
  const delivered = median(group.map((run) => run.deliveredPerSecond))
  return {
    load,
    variant,
    deliveredPerSecond: delivered,
    vsFirst: delivered / median(baseline.map((run) => run.deliveredPerSecond)),
    deliveriesPerCpuSecond: median(group.map((run) => run.deliveriesPerCpuSecond)),
    p50Ms: median(group.map((run) => run.latencyMs.p50)),
    p99Ms: median(group.map((run) => run.latencyMs.p99)),
    ackP50Ms: median(group.map((run) => run.ackLatencyMs?.p50 ?? NaN)),
    ackP99Ms: median(group.map((run) => run.ackLatencyMs?.p99 ?? NaN)),
    lost: group.reduce((sum, run) => sum + run.lost, 0)
  }
})

/** The server's write system calls per delivery: raw ws makes one; fewer means frames shared a write. */
function writesPerDelivery (run: RunResult): number {
  return run.serverWrites / (run.deliveredPerSecond * run.measuredSeconds)
}

// Half load on the null sink: the service's own cost per message against raw ws, interleaved.
const HALF_TARGETS = { perCpuVsRaw: 0.9, p99VsRaw: 1.5 }
const half: Array<RunResult & { variant: string, round: number }> = []
if (parts.has('half')) {
  const db = await nullDatabase()
  const rate = Number(flags['half-rate'])
  for (let round = 0; round < rounds; round++) {
    for (const variant of [...variants, { name: 'raw-ws' }]) {
      const kind = variant.name === 'raw-ws' ? 'raw-ws' : 'service'
      const run = await runOnce(kind, first, { rate, warmupMs: steadyWarmupMs }, durationMs, variant, db)
      half.push({ ...run, scenario: `${first.name} @${rate}/s`, variant: variant.name, round })
      console.error(`half load round ${round + 1} ${variant.name}: ${run.deliveriesPerCpuSecond} deliveries/CPU-s, p99 ${run.latencyMs.p99} ms, lost ${run.lost}`)
    }
  }
}
const halfSummary = groupBy(half, (run) => run.variant).map((group) => {
  // Medians of each round's ratio: a round's runs ran back to back, under the same conditions.
  const vsRaw = (value: (run: RunResult) => number) => median(group.map((run) => {
    const raw = half.find((other) => other.variant === 'raw-ws' && other.round === run.round)!
    return value(run) / value(raw)
  }))
  const perCpuVsRaw = vsRaw((run) => run.deliveriesPerCpuSecond)
  const p99VsRaw = vsRaw((run) => run.latencyMs.p99)
  return {
    scenario: group[0]!.scenario,
    server: group[0]!.variant,
    ...rateMedians(group),
    lost: group.reduce((sum, run) => sum + run.lost, 0),
    // How loaded the server was: the rate is fixed, so on a slower machine it is more than half load.
    serverCpuPerSecond: cpuPerSecond(group).serverCpuPerSecond,
    writesPerDelivery: median(group.map(writesPerDelivery)),
    perCpuVsRaw,
    p99VsRaw,
    targetsMet: group[0]!.variant === 'raw-ws' ? '' : perCpuVsRaw >= HALF_TARGETS.perCpuVsRaw && p99VsRaw <= HALF_TARGETS.p99VsRaw ? 'yes' : 'no'
  }
})

// The cost of Redis fan-out: one instance with REDIS_URL against the same without, interleaved, null sink.
const REDIS_TARGET = 0.9
const redisRuns: Array<RunResult & { redis: 'off' | 'on', round: number, redisCpuUsPerMessage: number }> = []
const redisPairs: Array<Record<Side, PairRun>> = []
if (parts.has('redis') && hasRedisServer()) {
  const db = await nullDatabase()
  const redis = await startRedis()
  try {
    for (let round = 0; round < rounds; round++) {
      for (const on of [false, true]) {
        const redisCpuBefore = redisCpuSeconds(redis)
        const run = await runOnce('service', first, { window: Number(flags.window), warmupMs: steadyWarmupMs }, durationMs, { env: on ? redis.env : {} }, db)
        // Over the whole run, set-up included: what one Redis spends per message it orders and publishes.
        const redisCpuUsPerMessage = on ? redisCpuUsPerMessageSince(redis, redisCpuBefore, run.published) : 0
        redisRuns.push({ ...run, redis: on ? 'on' : 'off', round, redisCpuUsPerMessage })
        console.error(`redis round ${round + 1} ${on ? 'on' : 'off'}: ${run.deliveredPerSecond} deliveries/s, lost ${run.lost}`)
      }
    }
    // The same comparison with both instances loaded at once: the machine's speed, which drifts
    // from one run to the next on a shared VM, is the same for both sides of a round.
    for (let round = 0; round < rounds; round++) {
      const pair = await sideBySide(first, { on: redis.env, off: {} }, round % 2 === 0, { db, warmupMs: steadyWarmupMs })
      redisPairs.push(pair)
      console.error(`redis side by side round ${round + 1} on/off: ${pair.on.deliveredPerSecond}/${pair.off.deliveredPerSecond} deliveries/s`)
    }
  } finally {
    redis.stop()
  }
}
const redisSummary = groupBy(redisRuns, (run) => run.redis).map((group) => {
  const onVsOff = median(group.map((run) => run.deliveredPerSecond / redisRuns.find((other) => other.redis === 'off' && other.round === run.round)!.deliveredPerSecond))
  return {
    redis: group[0]!.redis,
    deliveredPerSecond: median(group.map((run) => run.deliveredPerSecond)),
    deliveriesPerCpuSecond: median(group.map((run) => run.deliveriesPerCpuSecond)),
    p99Ms: median(group.map((run) => run.latencyMs.p99)),
    lost: group.reduce((sum, run) => sum + run.lost, 0),
    // With Redis on the generator's core, an instance that is not kept busy measures that core, not itself.
    ...cpuPerSecond(group),
    redisCpuUsPerMessage: median(group.map((run) => run.redisCpuUsPerMessage)),
    writesPerDelivery: median(group.map(writesPerDelivery)),
    perCpuVsOff: median(group.map((run) => run.deliveriesPerCpuSecond / redisRuns.find((other) => other.redis === 'off' && other.round === run.round)!.deliveriesPerCpuSecond)),
    vsOff: onVsOff,
    targetMet: group[0]!.redis === 'off' ? '' : onVsOff >= REDIS_TARGET ? 'yes' : 'no'
  }
})

const redisSideBySide = redisPairs.length === 0
  ? []
  : [(() => {
      const summary = pairSummary(redisPairs)
      return { scenario: first.name, ...summary, targetMet: summary.throughputOnVsOff >= REDIS_TARGET ? 'yes' : 'no' }
    })()]

// Many channels per socket, against raw ws rooms and Socket.IO rooms; prints its own tables.
if (parts.has('many')) {
  await manyChannels({
    scenario: quick ? '400/10/100/20' : flags.many,
    rounds,
    quick,
    durationMs,
    warmupMs: steadyWarmupMs,
    window: Number(flags.window),
    payloadBytes: Number(flags.payload),
    idleSockets: idleConnections,
    mongoUri: (await nullDatabase()).uri,
    mongoDb: DB
  })
}

const machine = { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, date: new Date().toISOString() }
table('Closed loop (medians)', closedSummary)
table('Against raw ws', ratios)
table('Open loop at 50% of the service maximum (medians)', openSummary.map(({ scenario, server, deliveredPerSecond, p50Ms, p99Ms, maxMs, lost }) => ({ scenario, server, deliveredPerSecond, p50Ms, p99Ms, maxMs, lost })))
if (persistence !== undefined) {
  table(`Persistence over ${persistMs / 1000} s at the maximum rate (${first.name})`, [{
    accepted: persistence.published - persistence.refused,
    stored: persistence.stored,
    refused: persistence.refused,
    storedPerSecond: Math.round((persistence.stored ?? 0) / (persistMs / 1000 + 1)),
    peakQueueDepth: persistence.peakQueueDepth,
    serverCpuMsPerStoredMessage: (persistence.serverCpuSeconds * 1000) / Math.max(1, persistence.published)
  }])
}
table(`Across instances (${scenarios[0]!.name}, service, Redis fan-out on one Redis and on a Redis Cluster of ${CLUSTER_SIZE} masters; medians)`, cluster)
table(`Feature costs (${scenarios[0]!.name}, service variants interleaved; medians; vsFirst: delivered/s against ${variants[0]!.name})`, featureSummary)
table(`Half load on the null sink (service variants and raw ws interleaved; medians; targets: perCpuVsRaw >= ${HALF_TARGETS.perCpuVsRaw}, p99VsRaw <= ${HALF_TARGETS.p99VsRaw})`, halfSummary)
table(`Redis fan-out (${first.name}, one instance, closed loop, window ${flags.window}, null sink; vsOff: median of each round's ratio, target >= ${REDIS_TARGET})`, redisSummary)
table(`Redis fan-out side by side (${first.name}, one instance with Redis and one without on the server core at once, each under its own generator, window ${flags.window}, null sink; medians of each round's ratio, target >= ${REDIS_TARGET})`, redisSideBySide)
table('Idle connections', idle.map((row) => ({ ...row, baselineMiB: row.baselineBytes / 2 ** 20 })))
const scraped = Number(flags['scrape-every']) > 0 ? `/metrics scraped every ${flags['scrape-every']} s` : '/metrics not scraped'
table(`Metrics on against off (two services side by side on the server core, closed loop, ${scraped}; medians of each round's ratio)`, metricsCost)
table('Server CPU per request with idle sockets open (ms)', scrapes)

mkdirSync('bench-results', { recursive: true })
const file = join('bench-results', `bench-${Date.now()}.json`)
const results = {
  machine,
  flags,
  closedLoop,
  closedSummary,
  ratios,
  openLoop,
  openSummary,
  persistence,
  idle,
  cluster,
  metricsRounds,
  metricsCost,
  scrapes,
  features,
  featureSummary,
  half,
  halfSummary,
  redisRuns,
  redisSummary,
  redisPairs,
  redisSideBySide
}
writeFileSync(file, JSON.stringify(results, null, 2))
const charts = writeCharts({ machine, flags, closedSummary, openSummary }, file)
console.log(`\nmachine: ${JSON.stringify(machine)}\nresults: ${file}${charts.map((chart) => `\nchart: ${chart}`).join('')}`)
await main.client.close()
await nullSink?.client.close()
process.exit(0)
