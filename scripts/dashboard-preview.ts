// npm run dashboard:preview [-- --seconds 90] [--every 3] [--from bench-results/dashboard-scrapes.json] [--out docs/grafana/dashboard.png]
// The README's picture of the Grafana dashboard, from a real run: starts the service (dist/server.js)
// on jongodb and Redis, sends it traffic for --seconds (WebSocket and REST senders, refusals of
// every kind, MongoDB away for a while, then Redis), scrapes GET /metrics every --every seconds,
// then draws each panel's queries over those scrapes (scripts/grafana/) and has Chromium take the
// screenshot. The scrapes are kept in bench-results/dashboard-scrapes.json; --from draws them again.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { createSigner } from 'fast-jwt'
import { chromium } from 'playwright-core'
import WebSocket from 'ws'
import { freePort } from '../bench/redis-cli.js'
import { startEmbeddedMongo } from '../lib/storage/embedded-mongo.js'
import { loadDashboard, ROOT } from './grafana/dashboard.js'
import { samplesOf, type Scrape } from './grafana/promql.js'
import { renderDashboard } from './grafana/render.js'

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '90' },
    every: { type: 'string', default: '3' },
    from: { type: 'string' },
    out: { type: 'string', default: join(ROOT, 'docs', 'grafana', 'dashboard.png') }
  }
})
const every = Number(flags.every)
const SECRET = 'dashboard-preview-secret-dashboard-preview'
const ROOMS = Array.from({ length: 12 }, (_, i) => `room-${i}`)
const sign = createSigner({ key: SECRET, algorithm: 'HS256', expiresIn: 3_600_000 })
const tokenOf = (id: string): string => sign({ id, groups: ROOMS })

/** A TCP relay in front of MongoDB that can refuse and cut every connection: MongoDB away, as the service sees it. */
async function cuttableRelay (port: number): Promise<{ uri: string, down (): void, up (): void, close (): void }> {
  const sockets = new Set<Socket>()
  let isDown = false
  const server: Server = createServer((client) => {
    if (isDown) return client.destroy()
    const upstream = connect(port, '127.0.0.1')
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => {})
    }
    client.pipe(upstream).on('close', () => upstream.destroy())
    upstream.pipe(client).on('close', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    uri: `mongodb://127.0.0.1:${(server.address() as { port: number }).port}/?directConnection=true`,
    down () {
      isDown = true
      for (const socket of sockets) socket.destroy()
    },
    up () { isDown = false },
    close () {
      for (const socket of sockets) socket.destroy()
      server.close()
    }
  }
}

function redisServer (port: number): ChildProcess {
  return spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'], { stdio: 'ignore' })
}

/** The service on a port of its own; warnings and errors only in its log (each request is logged at info). */
async function startService (env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess, base: string }> {
  const port = await freePort()
  const child = spawn(process.execPath, ['--max-semi-space-size=64', join(ROOT, 'dist', 'server.js')], {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' }, stdio: ['ignore', 'inherit', 'inherit']
  })
  const base = `http://127.0.0.1:${port}`
  const exited = new Promise<never>((_resolve, reject) => child.once('exit', (code) => reject(new Error(`the service exited (${code}) before it listened`))))
  exited.catch(() => {})
  for (let ready = false; !ready;) {
    await Promise.race([sleep(200), exited])
    ready = await fetch(`${base}/health`).then((response) => response.ok, () => false)
  }
  return { child, base }
}

/**
 * What the run does, by second (scaled to --seconds): subscribers connect, senders speed up,
 * refusals of each kind come in, one user floods, MongoDB goes away, then Redis, then some
 * subscribers leave.
 */
function plan (second: number, total: number) {
  const at = (fraction: number): number => fraction * total
  return {
    subscribers: second < at(0.15) ? Math.round(120 * second / at(0.15)) : second < at(0.8) ? 120 : 80,
    wsPerSecond: second < at(0.15) ? 40 : second < at(0.4) ? 150 : 100,
    restPerSecond: second < at(0.15) ? 5 : 20,
    invalidPerSecond: second >= at(0.15) && second < at(0.7) ? 3 : 0.5,
    unauthorizedPerSecond: second >= at(0.2) && second < at(0.5) ? 2 : 0,
    forbiddenPerSecond: second >= at(0.25) && second < at(0.45) ? 1 : 0,
    floodPerSecond: second >= at(0.35) && second < at(0.42) ? 120 : 0,
    mongoDown: second >= at(0.45) && second < at(0.62),
    redisDown: second >= at(0.66) && second < at(0.74)
  }
}

async function record (seconds: number): Promise<Scrape[]> {
  const mongo = await startEmbeddedMongo()
  const relay = await cuttableRelay(Number(new URL(mongo.uri).port))
  const redisPort = await freePort()
  let redis = redisServer(redisPort)
  await sleep(300)
  const runDirectory = join(ROOT, 'bench-results')
  mkdirSync(runDirectory, { recursive: true })
  const service = await startService({
    CHAT_PAGE: 'false',
    JWT_SECRET: SECRET,
    MONGO_URI: relay.uri,
    MONGO_DB: 'dashboard_preview',
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    // Few retries, so that messages accepted while MongoDB is away reach the dead-letter file within the run.
    RETRY_ATTEMPTS: '1',
    WRITE_RETRY_MIN_DELAY_MS: '200',
    WRITE_RETRY_MAX_DELAY_MS: '1000',
    DEAD_LETTER_FILE: join(runDirectory, `dashboard-preview-dead-letter-${Date.now()}.jsonl`)
  })
  const instance = `${new URL(service.base).host}`
  const wsBase = service.base.replace('http', 'ws')
  const subscribers: WebSocket[] = []
  const senders = Array.from({ length: 20 }, (_, i) => new WebSocket(`${wsBase}/ws?channel=${ROOMS[i % ROOMS.length]}`, { headers: { authorization: `Bearer ${tokenOf(`sender-${i}`)}` } }))
  const flooder = new WebSocket(`${wsBase}/ws?channel=${ROOMS[0]}`, { headers: { authorization: `Bearer ${tokenOf('flooder')}` } })
  for (const socket of [...senders, flooder]) socket.on('error', () => {})
  const scrapes: Scrape[] = []
  const started = Date.now()
  const carry: Record<string, number> = {}
  /** How many to send in this tick at `perSecond`, carrying fractions over. */
  const due = (kind: string, perSecond: number, tickSeconds: number): number => {
    carry[kind] = (carry[kind] ?? 0) + perSecond * tickSeconds
    const count = Math.floor(carry[kind]!)
    carry[kind]! -= count
    return count
  }
  const post = (path: string, body: string, token?: string): void => {
    fetch(`${service.base}/api/messages/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
      body
    }).then((response) => response.arrayBuffer(), () => {})
  }
  let sent = 0
  let nextScrape = 0
  let mongoIsDown = false
  let redisIsDown = false
  const tickMs = 100
  try {
    while (Date.now() - started < seconds * 1000) {
      const second = (Date.now() - started) / 1000
      const now = plan(second, seconds)
      while (subscribers.length < now.subscribers) {
        const socket = new WebSocket(`${wsBase}/ws?channel=${ROOMS[subscribers.length % ROOMS.length]}`, { headers: { authorization: `Bearer ${tokenOf(`reader-${subscribers.length}`)}` } })
        socket.on('error', () => {})
        subscribers.push(socket)
      }
      while (subscribers.length > now.subscribers) subscribers.pop()!.close()
      const tick = tickMs / 1000
      for (let i = due('ws', now.wsPerSecond, tick); i > 0; i--) {
        const sender = senders[sent++ % senders.length]!
        if (sender.readyState === WebSocket.OPEN) sender.send(JSON.stringify({ content: `message ${sent}` }))
      }
      for (let i = due('rest', now.restPerSecond, tick); i > 0; i--) post(ROOMS[sent++ % ROOMS.length]!, JSON.stringify({ content: `message ${sent}` }), tokenOf(`rest-${sent % 10}`))
      for (let i = due('invalid', now.invalidPerSecond, tick); i > 0; i--) post(ROOMS[0]!, JSON.stringify({ content: '' }), tokenOf('rest-0'))
      for (let i = due('unauthorized', now.unauthorizedPerSecond, tick); i > 0; i--) post(ROOMS[0]!, JSON.stringify({ content: 'no token' }))
      for (let i = due('forbidden', now.forbiddenPerSecond, tick); i > 0; i--) post('someone-else', JSON.stringify({ content: 'not mine' }), tokenOf('rest-1'))
      for (let i = due('flood', now.floodPerSecond, tick); i > 0; i--) {
        if (flooder.readyState === WebSocket.OPEN) flooder.send(JSON.stringify({ content: 'flood' }))
      }
      if (now.mongoDown !== mongoIsDown) {
        mongoIsDown = now.mongoDown
        if (mongoIsDown) relay.down()
        else relay.up()
        console.error(`${second.toFixed(0)} s: MongoDB ${mongoIsDown ? 'away' : 'back'}`)
      }
      if (now.redisDown !== redisIsDown) {
        redisIsDown = now.redisDown
        if (redisIsDown) redis.kill('SIGKILL')
        else redis = redisServer(redisPort)
        console.error(`${second.toFixed(0)} s: Redis ${redisIsDown ? 'away' : 'back'}`)
      }
      if (second >= nextScrape) {
        nextScrape += every
        const time = Date.now() / 1000
        const text = await fetch(`${service.base}/metrics`, { signal: AbortSignal.timeout(10_000) }).then((response) => response.text())
        // The labels Prometheus adds to what it scrapes.
        scrapes.push({ time, samples: samplesOf(text, { job: 'chat', instance }) })
      }
      await sleep(tickMs)
    }
  } finally {
    for (const socket of [...subscribers, ...senders, flooder]) socket.terminate()
    service.child.kill('SIGTERM')
    await new Promise((resolve) => service.child.once('exit', resolve))
    redis.kill('SIGKILL')
    relay.close()
    await mongo.stop()
  }
  return scrapes
}

const scrapes = flags.from !== undefined
  ? JSON.parse(readFileSync(flags.from, 'utf8')) as Scrape[]
  : await record(Number(flags.seconds))
if (flags.from === undefined) {
  mkdirSync(join(ROOT, 'bench-results'), { recursive: true })
  writeFileSync(join(ROOT, 'bench-results', 'dashboard-scrapes.json'), JSON.stringify(scrapes))
}
const html = renderDashboard(loadDashboard(), scrapes, {
  rateIntervalSeconds: 4 * every,
  source: `Not Grafana: each panel's queries evaluated over ${scrapes.length} scrapes of GET /metrics, one every ${every} s, of a run of npm run dashboard:preview ` +
    `(the service on jongodb and Redis under WebSocket and REST senders; MongoDB away for a while, then Redis), ${new Date(scrapes[0]!.time * 1000).toISOString().slice(0, 10)}.`
})
const page = join(ROOT, 'bench-results', 'dashboard-preview.html')
writeFileSync(page, html)
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
})
try {
  const tab = await browser.newPage({ viewport: { width: 1600, height: 900 }, deviceScaleFactor: 1 })
  await tab.setContent(html)
  await tab.screenshot({ path: flags.out!, fullPage: true })
} finally {
  await browser.close()
}
console.log(`${flags.out} (${Math.round(statSync(flags.out!).size / 1024)} KB), from ${scrapes.length} scrapes; the page: ${page}`)
