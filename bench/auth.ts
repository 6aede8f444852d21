// npm run bench:auth -- [--duration 5] [--rounds 3] [--connections 32] [--users 200]
// REST throughput by token kind, in one run: HS256 (JWT_SECRET) against RS256 and ES256
// (JWT_PUBLIC_KEY), each with the verified-token cache on (JWT_CACHE_SIZE default) and off (0).
// Runs are interleaved, each on a fresh server pinned to core 0; the generator and jongodb on core 1.
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { exportSPKI, generateKeyPair, SignJWT } from 'jose'
import { MongoClient } from 'mongodb'
import { benchMongoUri, janitor } from './database.js'
import { BENCH_JWT_SECRET, cpuSeconds, LOAD_CORE, pidOf, pinned, SERVER_CORE, SERVER_NODE_FLAGS, startProcess, USER_LIMITS_ABOVE_THE_BENCH } from './processes.js'
import { median, table } from './report.js'
import type { RestGeneratorConfig, RestGeneratorResult } from './rest-generator.js'

const DB = 'chat_bench_auth'
const dist = import.meta.dirname

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    users: { type: 'string', default: '200' }
  }
})

const mongoUri = await benchMongoUri(LOAD_CORE)
const mongo = new MongoClient(mongoUri)
const collection = mongo.db(DB).collection('messages')

interface TokenKind { alg: string, publicKey?: string, tokens: string[] }

/** One token per user, each reused for every request of that user, as real clients do. */
async function tokenKind (alg: string): Promise<TokenKind> {
  const users = Array.from({ length: Number(flags.users) }, (_, i) => ({ id: `user-${i}`, groups: ['bench'], exp: Math.floor(Date.now() / 1000) + 3600 }))
  if (alg === 'HS256') {
    const secret = new TextEncoder().encode(BENCH_JWT_SECRET)
    return { alg, tokens: await Promise.all(users.map((user) => new SignJWT(user).setProtectedHeader({ alg }).sign(secret))) }
  }
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  return {
    alg,
    publicKey: await exportSPKI(publicKey),
    tokens: await Promise.all(users.map((user) => new SignJWT(user).setProtectedHeader({ alg }).sign(privateKey)))
  }
}

interface Run {
  alg: string
  cache: string
  perSecond: number
  serverCpuUsPerRequest: number
  generatorCpuPerSecond: number
  not201: number
}

async function runOnce (kind: TokenKind, cache: 'on' | 'off'): Promise<Run> {
  const server = await startProcess(pinned(SERVER_CORE, process.execPath, [...SERVER_NODE_FLAGS, join(dist, '..', 'server.js')]), {
    PORT: '0',
    HOST: '127.0.0.1',
    MONGO_URI: mongoUri,
    MONGO_DB: DB,
    JWT_SECRET: BENCH_JWT_SECRET,
    ...(kind.publicKey === undefined ? {} : { JWT_PUBLIC_KEY: kind.publicKey }),
    ...(cache === 'off' ? { JWT_CACHE_SIZE: '0' } : {}),
    SHUTDOWN_TIMEOUT_MS: '2000',
    // 200 users at thousands of requests a second: far above USER_MESSAGE_RATE's default, which would answer 429.
    ...USER_LIMITS_ABOVE_THE_BENCH,
    DEAD_LETTER_FILE: join('bench-results', `dead-letter-auth-${Date.now()}.jsonl`)
  }, /Server listening at http:\/\/127\.0\.0\.1:(\d+)/)
  const sweep = janitor(collection)
  try {
    const config: RestGeneratorConfig = {
      port: server.port,
      path: '/api/messages/bench',
      body: '{"content":"hello"}',
      tokens: kind.tokens,
      connections: Number(flags.connections),
      durationMs: Number(flags.duration) * 1000,
      warmupMs: 1000
    }
    const child = spawn(...pinned(LOAD_CORE, process.execPath, [join(dist, 'rest-generator.js'), JSON.stringify(config)]), { stdio: ['ignore', 'pipe', 'inherit'] })
    let cpuStart = 0
    let cpuEnd = 0
    let result: RestGeneratorResult | undefined
    for await (const line of createInterface({ input: child.stdout! })) {
      const message = JSON.parse(line)
      if (message.event === 'measure-start') cpuStart = cpuSeconds(pidOf(server))
      else if (message.event === 'measure-end') cpuEnd = cpuSeconds(pidOf(server))
      else result = message
    }
    if (result === undefined) throw new Error('the generator did not report')
    return {
      alg: kind.alg,
      cache,
      perSecond: result.perSecond,
      serverCpuUsPerRequest: ((cpuEnd - cpuStart) * 1e6) / Math.max(1, result.requests),
      generatorCpuPerSecond: result.generatorCpuSeconds / result.measuredSeconds,
      not201: result.requests - (result.statuses['201'] ?? 0)
    }
  } finally {
    await server.stop()
    await sweep.stop()
  }
}

mkdirSync('bench-results', { recursive: true })
const kinds = [await tokenKind('HS256'), await tokenKind('RS256'), await tokenKind('ES256')]
const runs: Run[] = []
for (let round = 0; round < Number(flags.rounds); round++) {
  for (const kind of kinds) {
    for (const cache of ['on', 'off'] as const) {
      const run = await runOnce(kind, cache)
      runs.push(run)
      console.error(`round ${round + 1} ${kind.alg} cache ${cache}: ${run.perSecond} requests/s, ${run.serverCpuUsPerRequest.toFixed(1)} µs server CPU per request`)
    }
  }
}

const summary = kinds.flatMap((kind) => (['on', 'off'] as const).map((cache) => {
  const group = runs.filter((run) => run.alg === kind.alg && run.cache === cache)
  return {
    alg: kind.alg,
    cache,
    requestsPerSecond: median(group.map((run) => run.perSecond)),
    serverCpuUsPerRequest: median(group.map((run) => run.serverCpuUsPerRequest)),
    generatorCpuPerSecond: median(group.map((run) => run.generatorCpuPerSecond)),
    not201: group.reduce((sum, run) => sum + run.not201, 0)
  }
}))
const hs256 = (cache: string) => summary.find((row) => row.alg === 'HS256' && row.cache === cache)!
const machine = { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, date: new Date().toISOString() }
table(`POST /api/messages/<channel>, ${flags.connections} connections, ${flags.users} users (medians of ${flags.rounds})`, summary.map((row) => ({
  ...row, throughputVsHs256: row.requestsPerSecond / hs256(row.cache).requestsPerSecond
})))
const file = join('bench-results', `bench-auth-${Date.now()}.json`)
writeFileSync(file, JSON.stringify({ machine, flags, runs, summary }, null, 2))
console.log(`\nmachine: ${JSON.stringify(machine)}\nresults: ${file}`)
await mongo.close()
process.exit(0)
