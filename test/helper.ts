// Builds the real service, mounted in a host app under /chat, listening on a real port,
// against a real jongodb process (or TEST_MONGO_URI), and gives real HTTP and WS clients.
import { randomUUID } from 'node:crypto'
import { spawn, type ChildProcess } from 'node:child_process'
import { request as httpRequest } from 'node:http'
import { createInterface } from 'node:readline'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { createSigner } from 'fast-jwt'
import { MongoClient } from 'mongodb'
import WebSocket from 'ws'
import chat, { type ChatOptions } from '../app.js'
import { freePort, hasRedisServer } from '../bench/redis-cli.js'
import { startEmbeddedMongo, type EmbeddedMongo } from '../lib/storage/embedded-mongo.js'

// tap runs TypeScript through a loader @fastify/autoload does not detect by itself.
process.env.FASTIFY_AUTOLOAD_TYPESCRIPT = '1'

type Test = { teardown (fn: () => unknown): void }

export const SECRET = 'test-secret-that-is-long-enough-for-hs256'

export function token (claims: object, options: { secret?: string, expiresIn?: number } = {}): string {
  const sign = createSigner({ key: options.secret ?? SECRET, algorithm: 'HS256', expiresIn: options.expiresIn })
  return sign({ ...claims })
}

/** A MongoDB for one test file: a fresh jongodb process, or a fresh database on TEST_MONGO_URI. */
export async function startMongo (t: Test): Promise<{ uri: string, db: string, server?: EmbeddedMongo }> {
  const db = `chat_test_${randomUUID().slice(0, 8)}`
  if (process.env.TEST_MONGO_URI) return { uri: process.env.TEST_MONGO_URI, db }
  const server = await startEmbeddedMongo()
  t.teardown(() => server.stop())
  return { uri: server.uri, db, server }
}

export interface Service {
  host: FastifyInstance
  base: string
  ws: string
  mongo: MongoClient
  collection: ReturnType<ReturnType<MongoClient['db']>['collection']>
}

/**
 * Tests of other things send and connect as fast as they like from one user; the tests of the
 * per-user limits set them (an option set to undefined gets the default).
 */
const PER_USER_LIMITS_OFF = { userMessageRate: 0, userMaxConnections: 0 }
const PER_USER_LIMITS_OFF_ENV = { USER_MESSAGE_RATE: '0', USER_MAX_CONNECTIONS: '0' }

/** A host app with a route of its own and the chat service under /chat, listening on 127.0.0.1. */
export async function buildService (t: Test, options: ChatOptions = {}, mongo?: { uri: string, db: string }): Promise<Service> {
  const database = mongo ?? await startMongo(t)
  // A browser of a test may keep a connection that never ends; close must not wait for it.
  const host = Fastify({ logger: false, forceCloseConnections: true })
  host.get('/host-route', async () => ({ host: true }))
  await host.register(chat, {
    prefix: '/chat',
    mongoUri: database.uri,
    mongoDb: database.db,
    jwtSecret: SECRET,
    writeRetryMinDelayMs: 20,
    writeRetryMaxDelayMs: 200,
    shutdownTimeoutMs: 2_000,
    deadLetterFile: join(tmpdir(), `chat-dead-letter-${randomUUID()}.jsonl`),
    ...PER_USER_LIMITS_OFF,
    ...options
  })
  await host.listen({ port: 0, host: '127.0.0.1' })
  const client = new MongoClient(database.uri, { serverSelectionTimeoutMS: 2_000 })
  t.teardown(async () => {
    await host.close()
    await client.close()
  })
  const { port } = host.server.address() as { port: number }
  return {
    host,
    base: `http://127.0.0.1:${port}/chat`,
    ws: `ws://127.0.0.1:${port}/chat/ws`,
    mongo: client,
    collection: client.db(database.db).collection(options.mongoCollection ?? 'messages')
  }
}

export function bearer (claims: object): Record<string, string> {
  return { authorization: `Bearer ${token(claims)}` }
}

export async function post (
  url: string,
  body: unknown,
  headers: Record<string, string> = {}
): Promise<{ status: number, body: any, headers: Headers }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body)
  })
  return { status: response.status, body: await response.json(), headers: response.headers }
}

/** A request as the user (a bearer token for the claims), with a JSON body when given; an empty answer has no body. */
export async function call (method: string, url: string, user: object, body?: unknown): Promise<{ status: number, body: any }> {
  const response = await fetch(url, {
    method,
    headers: { ...bearer(user), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await response.text()
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) }
}

export async function get (url: string, headers: Record<string, string> = {}): Promise<{ status: number, body: any }> {
  const response = await fetch(url, { headers })
  return { status: response.status, body: await response.json() }
}

/** A WebSocket client that queues every frame it receives, listening before the socket opens. */
export class Client {
  readonly socket: WebSocket
  readonly frames: any[] = []
  readonly #waiters: Array<() => void> = []
  closed: Promise<{ code: number, reason: string }>

  constructor (url: string, options: WebSocket.ClientOptions & { protocols?: string[] } = {}) {
    this.socket = new WebSocket(url, options.protocols, options)
    this.socket.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()))
      this.#waiters.splice(0).forEach((wake) => wake())
    })
    this.closed = new Promise((resolve) => this.socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  }

  static async open (url: string, options: WebSocket.ClientOptions & { protocols?: string[] } = {}): Promise<Client> {
    const client = new Client(url, options)
    await new Promise<void>((resolve, reject) => {
      client.socket.once('open', () => resolve())
      client.socket.once('error', reject)
    })
    return client
  }

  /** Resolves with the first `count` frames once they have arrived. */
  async receive (count: number, timeoutMs = 5_000): Promise<any[]> {
    const deadline = Date.now() + timeoutMs
    while (this.frames.length < count) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`expected ${count} frames, got ${this.frames.length}: ${JSON.stringify(this.frames)}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
    return this.frames.slice(0, count)
  }

  send (frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  close (): Promise<{ code: number, reason: string }> {
    this.socket.close()
    return this.closed
  }
}

/** Opens a WebSocket for a user on a channel and tells the HTTP status when the upgrade is refused. */
export function upgradeStatus (url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers })
    socket.on('open', () => { socket.close(); resolve(101) })
    socket.on('unexpected-response', (_request, response) => { resolve(response.statusCode ?? 0); socket.terminate() })
    socket.on('error', (error) => { if (!/Unexpected server response/.test(error.message)) reject(error) })
  })
}

/** Waits until the check passes, polling; fails with the last value after the timeout. */
export async function eventually<T> (read: () => Promise<T> | T, check: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await read()
    if (check(value)) return value
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** A GET with a body, as the seed's counts endpoint takes it (fetch refuses to send one). */
export function getWithBody (url: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<{ status: number, body: any }> {
  return new Promise((resolve, reject) => {
    const length = headers['transfer-encoding'] === undefined ? { 'content-length': Buffer.byteLength(body) } : {}
    const request = httpRequest(url, { method: 'GET', headers: { ...headers, ...length } }, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }))
    })
    request.on('error', reject)
    request.end(body)
  })
}

/**
 * A TCP proxy in front of MongoDB. `delayMs` holds every chunk that long (a slow database);
 * `down()` cuts every connection and refuses new ones until `up()` (an outage that keeps the data);
 * `stall()` keeps connections open and passes nothing.
 */
export interface MongoProxy {
  uri: string
  down (): void
  up (): void
  stall (): void
  unstall (): void
  blackhole (): void
}

export async function mongoProxy (t: Test, target: string, delayMs = 0): Promise<MongoProxy> {
  const { hostname, port } = new URL(target)
  const sockets = new Set<Socket>()
  let isDown = false
  let stalled = false
  const held: Array<() => void> = []
  const blackholed = new WeakSet<Socket>()
  const relay = (from: Socket, to: Socket): void => {
    const pass = (chunk: Buffer) => {
      if (blackholed.has(from)) return
      if (stalled) held.push(() => pass(chunk))
      else if (!to.destroyed) to.write(chunk)
    }
    from.on('data', (chunk: Buffer) => delayMs > 0 ? setTimeout(pass, delayMs, chunk) : pass(chunk))
    from.on('close', () => setTimeout(() => to.destroy(), delayMs))
    from.on('error', () => to.destroy())
  }
  const server: Server = createServer((client) => {
    if (isDown) {
      client.destroy()
      return
    }
    const upstream = connect(Number(port), hostname)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
    }
    relay(client, upstream)
    relay(upstream, client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return {
    uri: `mongodb://127.0.0.1:${(server.address() as { port: number }).port}/?directConnection=true`,
    down () {
      isDown = true
      for (const socket of sockets) socket.destroy()
    },
    up () { isDown = false },
    /** Connections stay open but nothing passes any more: a database that hangs. */
    stall () { stalled = true },
    /** What a stall held back passes, in order, and traffic flows again. */
    unstall () {
      stalled = false
      for (const passHeld of held.splice(0)) passHeld()
    },
    /** The connections open now stay open but pass nothing ever again (a dead link); new ones work. */
    blackhole () {
      for (const socket of sockets) blackholed.add(socket)
    }
  }
}

/** A jongodb process that a test can stop and start again on the same port (its data is lost). */
export async function stoppableMongo (t: Test): Promise<{ uri: string, stop (): Promise<void>, start (): Promise<void> }> {
  let server = await startEmbeddedMongo()
  const port = Number(new URL(server.uri).port)
  t.teardown(() => server.stop())
  return {
    uri: server.uri,
    stop: () => server.stop(),
    start: async () => { server = await startEmbeddedMongo(port) }
  }
}

export { freePort }

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export interface ServerProcess {
  base: string
  pid: number
  logs: any[]
  exited: Promise<number | null>
  signal (name: NodeJS.Signals): void
}

/** Runs server.ts as its own process (as `npm start` does) and resolves once it listens. */
export async function startServerProcess (t: Test, env: NodeJS.ProcessEnv): Promise<ServerProcess> {
  const server = spawnServerProcess(t, env)
  const base = await new Promise<string>((resolve, reject) => {
    server.exited.then((code) => reject(new Error(`server exited with ${code} before listening`)))
    server.onLog((entry) => {
      const address = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(entry.msg)
      if (address) resolve(address[1]!)
    })
  })
  return { ...server, base }
}

/** Runs server.ts as its own process, whether or not it manages to start, and collects its log. */
export function spawnServerProcess (t: Test, env: NodeJS.ProcessEnv): Omit<ServerProcess, 'base'> & { onLog (listener: (entry: any) => void): void } {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, JWT_SECRET: SECRET, PORT: '0', HOST: '127.0.0.1', FASTIFY_AUTOLOAD_TYPESCRIPT: '1', ...PER_USER_LIMITS_OFF_ENV, ...env }
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete childEnv[name]
  const child = spawn(process.execPath, [...process.execArgv, 'server.ts'], { env: childEnv, stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  t.teardown(() => { child.kill('SIGKILL') })
  const logs: any[] = []
  const listeners: Array<(entry: any) => void> = []
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const entry = JSON.parse(line)
    logs.push(entry)
    for (const listener of listeners) listener(entry)
  })
  return { pid: child.pid!, logs, exited, signal: (name) => child.kill(name), onLog: (listener) => listeners.push(listener) }
}

/** Whether a process with this pid is running (a zombie, dead but not yet reaped, is not). */
export function isRunning (pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'))
}

/**
 * A WebSocket client over a raw TCP socket that upgrades and then reads nothing: it neither
 * takes what it is sent nor answers the closing handshake.
 */
export function stuckClient (url: string, headers: Record<string, string>): Promise<Socket> {
  const { port, pathname, search } = new URL(url)
  const socket = connect(Number(port), '127.0.0.1')
  socket.on('error', () => {})
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('')
  socket.write(`GET ${pathname}${search} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${lines}\r\n`)
  return new Promise((resolve, reject) => {
    socket.once('data', (chunk: Buffer) => {
      socket.pause()
      if (chunk.toString('latin1').startsWith('HTTP/1.1 101')) resolve(socket)
      else reject(new Error(`upgrade refused: ${chunk.toString('latin1').split('\r\n')[0]}`))
    })
  })
}

/**
 * A real redis-server process on a free port, which a test can stop and start again.
 * Needs `redis-server` on PATH (Debian: apt-get install redis-server).
 */
export async function startRedis (t: Test): Promise<{ url: string, stop (): Promise<void>, start (): Promise<void> }> {
  if (!hasRedisServer()) {
    throw new Error('redis-server is not on PATH: install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)')
  }
  return await onFreePort(async (port) => {
    const { start, stop } = redisServer(port)
    await start()
    t.teardown(stop)
    return { url: `redis://127.0.0.1:${port}`, stop, start }
  })
}

/**
 * Starts something on a free port, on another one if it fails: a port found free can be taken
 * before the server binds it, by an outgoing connection of a test running alongside, say.
 */
export async function onFreePort<Started> (start: (port: number) => Promise<Started>, attempts = 3): Promise<Started> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await freePort())
    } catch (error) {
      if (attempt >= attempts) throw error
    }
  }
}

/** A redis-server on 127.0.0.1 and this port, without persistence, that can be killed and started again with the same arguments. */
export function redisServer (port: number, args: string[] = []): { start (): Promise<void>, stop (): Promise<void> } {
  let child: ChildProcess | undefined
  const start = async (): Promise<void> => {
    const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    child = server
    let lastLine = ''
    await new Promise<void>((resolve, reject) => {
      server.once('exit', (code) => reject(new Error(`redis-server on ${port} exited with ${code}: ${lastLine}`)))
      createInterface({ input: server.stdout! }).on('line', (line) => {
        lastLine = line
        if (/Ready to accept connections/.test(line)) resolve()
      })
    })
  }
  const stop = async (): Promise<void> => {
    const server = child
    if (server === undefined || server.exitCode !== null) return
    await new Promise((resolve) => { server.once('exit', resolve); server.kill('SIGKILL') })
  }
  return { start, stop }
}

/** The MongoDB URI an instance connects to, given the server's. */
type MongoUriOf = (uri: string, instance: number) => string | Promise<string>

/**
 * Three instances (server.ts processes) sharing one MongoDB and one redis-server; `mongoUriOf`
 * may put an instance behind a proxy.
 */
export async function startCluster (t: Test & { testdir (): string }, env: NodeJS.ProcessEnv = {}, mongoUriOf: MongoUriOf = (uri) => uri) {
  const mongo = await startMongo(t)
  const redis = await startRedis(t)
  const servers = await startInstances(t, t.testdir(), mongo, { REDIS_URL: redis.url, ...env }, mongoUriOf)
  return { mongo, redis, servers }
}

/** Three instances (server.ts processes) sharing one MongoDB, each with its own dead-letter file. */
export async function startInstances (
  t: Test,
  directory: string,
  mongo: { uri: string, db: string },
  env: NodeJS.ProcessEnv,
  mongoUriOf: MongoUriOf = (uri) => uri
): Promise<ServerProcess[]> {
  return Promise.all([0, 1, 2].map(async (i) => startServerProcess(t, {
    MONGO_URI: await mongoUriOf(mongo.uri, i),
    MONGO_DB: mongo.db,
    DEAD_LETTER_FILE: join(directory, `dead-letter-${i}.jsonl`),
    ...env
  })))
}

/** The WebSocket URL of a server process for a channel. */
export function wsUrlOf (server: ServerProcess, channel = 'team'): string {
  return `${server.base.replace('http', 'ws')}/ws?channel=${channel}`
}
