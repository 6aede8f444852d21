// The load generator: its own process, lean sockets, timestamps found by scanning bytes.
// Reads a JSON config from argv[2], prints one JSON result line on stdout.
import { performance } from 'node:perf_hooks'
import { createSigner } from 'fast-jwt'
import { LeanSocket } from './lean-socket.js'
import { measureWindow, type LoadShape } from './measure-window.js'

export type ServerKind = 'service' | 'raw-ws' | 'fastify-ws' | 'socket.io'

export interface GeneratorConfig extends LoadShape {
  kind: ServerKind
  port: number
  /** Several instances of one cluster: socket i goes to ports[i % ports.length]. */
  ports?: number[]
  subscribers: number
  channels: number
  publishers: number
  /** Connect, report, and hold the connections idle until stdin closes. */
  idle?: boolean
  /** Service only: every frame carries a clientId (holding its send time), so the service acks it. */
  clientIds?: boolean
  /** Service only: every socket opts in to its channel's presence frames (`&presence=true`). */
  presence?: boolean
  /** Closed loop driven by acks instead of the publisher's own echo, as a client that resends until acked would be. */
  windowOnAck?: boolean
}

export interface GeneratorResult {
  published: number
  delivered: number
  deliveredPerSecond: number
  expected: number
  lost: number
  refused: number
  latencyMs: { p50: number, p99: number, max: number }
  /** From send to the service's ack (with clientIds). */
  ackLatencyMs?: { p50: number, p99: number, max: number }
  acks: number
  generatorCpuSeconds: number
  measuredSeconds: number
}

const MARK = Buffer.from('@@')
const MARK_0 = 0x40
const BUCKET_US = 10
const BUCKETS = 200_000

const config = JSON.parse(process.argv[2]!) as GeneratorConfig
const nowUs = (): number => Math.round(performance.now() * 1000)
// Tokens expire in an hour, as identity providers' do, so open sockets are on the expiry schedule.
const sign = config.jwtSecret === undefined ? undefined : createSigner({ key: config.jwtSecret, algorithm: 'HS256', expiresIn: 3_600_000 })

/** Latencies in BUCKET_US buckets, recorded without allocating. */
class Histogram {
  readonly #buckets = new Uint32Array(BUCKETS)
  #maxUs = 0
  #count = 0

  record (latencyUs: number): void {
    this.#buckets[Math.min(BUCKETS - 1, Math.floor(latencyUs / BUCKET_US))]!++
    this.#count++
    if (latencyUs > this.#maxUs) this.#maxUs = latencyUs
  }

  get count (): number {
    return this.#count
  }

  summary (): { p50: number, p99: number, max: number } {
    return { p50: this.#percentile(0.5), p99: this.#percentile(0.99), max: this.#maxUs / 1000 }
  }

  #percentile (fraction: number): number {
    let seen = 0
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#buckets[i]!
      if (seen >= this.#count * fraction) return ((i + 1) * BUCKET_US) / 1000
    }
    return this.#maxUs / 1000
  }
}

const deliveryLatency = new Histogram()
const ackLatency = new Histogram()
let acks = 0
let measuring = false
let publishing = true
let delivered = 0
let published = 0
let expected = 0
let refused = 0
const members = new Array<number>(config.channels).fill(0)
for (let i = 0; i < config.subscribers; i++) members[i % config.channels]!++

const padding = 'x'.repeat(Math.max(0, config.payloadBytes - 21))
function content (publisher: number): string {
  return `@@${String(nowUs()).padStart(13, '0')}#${String(publisher).padStart(5, '0')}${padding}`
}

let sent = 0
/** The send time and publisher, readable back from the ack: "<13 digits µs>.<5 digits publisher>.<n>". */
function clientId (publisher: number): string {
  return `${String(nowUs()).padStart(13, '0')}.${String(publisher).padStart(5, '0')}.${sent++}`
}

function encode (text: string, publisher: number): string {
  if (config.kind === 'service') return config.clientIds ? `{"content":"${text}","clientId":"${clientId(publisher)}"}` : `{"content":"${text}"}`
  if (config.kind === 'socket.io') return `42["msg","${text}"]`
  return text
}

function path (channel: string): string {
  if (config.kind === 'service') return `/ws?channel=${channel}${config.presence === true ? '&presence=true' : ''}`
  if (config.kind === 'socket.io') return `/socket.io/?EIO=4&transport=websocket&channel=${channel}`
  return `/?channel=${channel}`
}

/** Reads n decimal digits at offset without allocating. */
function digits (payload: Buffer, offset: number, n: number): number {
  let value = 0
  for (let i = offset; i < offset + n; i++) value = value * 10 + payload[i]! - 48
  return value
}

interface Client { socket: LeanSocket, channel: number, publisher: number, ready: Promise<void> }
const clients: Client[] = []

function publish (client: Client): void {
  if (!publishing || client.socket.closed) return
  published++
  expected += members[client.channel]!
  client.socket.sendText(encode(content(client.publisher), client.publisher))
}

/**
 * Most sockets only count what they receive; publishers' sockets (which get every message of
 * their channel, their own included) also read the timestamps, so latency is a large sample
 * and the generator stays cheaper per message than the servers it drives.
 */
function onText (client: Client, data: Buffer, start: number, end: number): void {
  if (client.publisher < 0 && config.kind !== 'socket.io') {
    delivered++
    return
  }
  if (client.publisher < 0 && data[start] === 0x34 && data[start + 1] === 0x32) {
    delivered++
    return
  }
  const payload = data.subarray(start, end)
  const at = payload[0] === MARK_0 && payload[1] === MARK_0 ? 0 : payload.indexOf(MARK)
  if (at === -1) return onControl(client, payload)
  delivered++
  if (measuring) deliveryLatency.record(nowUs() - digits(payload, at + 2, 13))
  if (config.window !== undefined && !config.windowOnAck && client.publisher >= 0 &&
    digits(payload, at + 16, 5) === client.publisher) publish(client)
}

const ACK = Buffer.from('{"ack":{"clientId":"')
function onAck (client: Client, payload: Buffer): void {
  acks++
  if (measuring) ackLatency.record(nowUs() - digits(payload, ACK.length, 13))
  if (config.windowOnAck && config.window !== undefined) publish(client)
}

let markSocketIoReady: Array<() => void> = []
function onControl (client: Client, payload: Buffer): void {
  if (config.kind === 'socket.io') {
    const type = payload.toString('latin1', 0, 2)
    if (type[0] === '0') client.socket.sendText('40')
    else if (type === '40') markSocketIoReady[clients.indexOf(client)]?.()
    else if (payload.length === 1 && type[0] === '2') client.socket.sendText('3')
    return
  }
  if (payload.subarray(0, ACK.length).equals(ACK)) return onAck(client, payload)
  if (payload.includes('"error"')) {
    refused++
    expected -= members[client.channel]!
    if (config.window !== undefined && client.publisher >= 0) setTimeout(() => publish(client), 1)
  }
}

async function connectAll (): Promise<void> {
  markSocketIoReady = []
  const batch = 200
  for (let start = 0; start < config.subscribers; start += batch) {
    const opening: Array<Promise<void>> = []
    for (let i = start; i < Math.min(config.subscribers, start + batch); i++) {
      const channel = i % config.channels
      const name = `c${channel}`
      const headers = sign === undefined ? undefined : { authorization: `Bearer ${sign({ id: `u${i}`, groups: [name] })}` }
      const client = {} as Client
      Object.assign(client, {
        channel,
        publisher: i < config.publishers ? i : -1,
        socket: new LeanSocket({
          port: config.ports?.[i % config.ports.length] ?? config.port,
          path: path(name),
          headers,
          onText: (data, begin, end) => onText(client, data, begin, end)
        })
      })
      const ready = config.kind === 'socket.io'
        ? Promise.all([client.socket.opened, new Promise<void>((resolve) => { markSocketIoReady[i] = resolve })]).then(() => {})
        : client.socket.opened
      client.ready = ready
      clients.push(client)
      opening.push(ready)
    }
    await Promise.all(opening)
  }
}

async function run (): Promise<GeneratorResult> {
  await connectAll()
  const publishers = clients.filter((client) => client.publisher >= 0)
  let timer: NodeJS.Timeout | undefined
  const started = performance.now()
  if (config.window !== undefined) {
    for (const client of publishers) for (let i = 0; i < config.window; i++) publish(client)
  } else {
    let next = 0
    timer = setInterval(() => {
      const due = Math.floor(((performance.now() - started) / 1000) * config.rate!)
      while (published + refused < due) publish(publishers[next++ % publishers.length]!)
    }, 2)
  }
  const { measuredSeconds, deliveredInWindow, cpu } = await measureWindow(config, () => delivered, (on) => { measuring = on })
  publishing = false
  clearInterval(timer)
  const drainUntil = performance.now() + 5_000
  // eslint-disable-next-line no-unmodified-loop-condition -- the sockets' onText callbacks count delivered while this sleeps
  while (delivered < expected && performance.now() < drainUntil) await sleep(20)
  for (const client of clients) client.socket.close()
  return {
    published,
    delivered,
    deliveredPerSecond: Math.round(deliveredInWindow / measuredSeconds),
    expected,
    lost: expected - delivered,
    refused,
    latencyMs: deliveryLatency.summary(),
    ackLatencyMs: ackLatency.count > 0 ? ackLatency.summary() : undefined,
    acks,
    generatorCpuSeconds: (cpu.user + cpu.system) / 1e6,
    measuredSeconds
  }
}

function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

if (config.idle) {
  await connectAll()
  console.log(JSON.stringify({ connected: clients.length }))
  process.stdin.resume()
  process.stdin.on('end', () => process.exit(0))
} else {
  console.log(JSON.stringify(await run()))
  process.exit(0)
}
