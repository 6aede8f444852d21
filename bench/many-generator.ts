// The many-channels load generator: its own process, lean sockets. Each socket subscribes to
// its channels with subscribe frames (or events); publishers send over their sockets to their
// own channels in turn. Every delivery is read back (send time, publisher, channel, count), so
// duplicates are found as well as losses. Reads a ManyConfig from argv[2]; prints one JSON
// result line on stdout, or {"connected": n} and holds the sockets in idle mode.
import { performance } from 'node:perf_hooks'
import { createSigner } from 'fast-jwt'
import { LeanSocket } from './lean-socket.js'
import { channelName, channelsOf, CONTENT, digits, frames, Histogram, MARK, markedContent, membersOf, slotOf, SUBSCRIBED, type ManyConfig, type ManyResult } from './many-scenario.js'
import { measureWindow } from './measure-window.js'

const config = JSON.parse(process.argv[2]!) as ManyConfig
const { kind, perSocket, channels, publishers, first } = config
const nowUs = (): number => Math.round(performance.now() * 1000)
const sign = config.jwtSecret === undefined ? undefined : createSigner({ key: config.jwtSecret, algorithm: 'HS256', expiresIn: 3_600_000 })
const names = Array.from({ length: channels }, (_, channel) => channelName(channel))
const members = membersOf(config.sockets, perSocket, channels)
const MARK_BYTES = Buffer.from(MARK)
const SUBSCRIBED_BYTES = Buffer.from(SUBSCRIBED)
const ERROR_BYTES = Buffer.from('"error"')

interface Client {
  socket: LeanSocket
  index: number
  channels: number[]
  publisher: number
  nextSlot: number
  subscribed: number
  onSubscribed: () => void
  onSocketIoOpen: () => void
}
const clients: Client[] = []

const latency = new Histogram()
let measuring = false
let publishing = false
let delivered = 0
let duplicates = 0
let published = 0
let expected = 0
let refused = 0
/** The next count of each publisher's messages to each channel. */
const sentCounts = new Int32Array(publishers * channels)
/** The last count seen by each socket, per channel of it and publisher: a count not above it is a duplicate. */
const seenCounts = new Int32Array(config.idle ? 0 : config.count * perSocket * publishers).fill(-1)

function publish (client: Client): void {
  if (!publishing || client.socket.closed) return
  const channel = client.channels[client.nextSlot++ % perSocket]!
  const count = sentCounts[client.publisher * channels + channel]!++
  published++
  expected += members[channel]!
  const content = markedContent(nowUs(), client.publisher, channel, count, config.payloadBytes)
  client.socket.sendText(frames.message(kind, names[channel]!, content))
}

function onText (client: Client, data: Buffer, start: number, end: number): void {
  const at = data.indexOf(MARK_BYTES, start)
  if (at === -1 || at >= end) return onControl(client, data.subarray(start, end))
  delivered++
  const publisher = digits(data, at + CONTENT.publisher, 5)
  const channel = digits(data, at + CONTENT.channel, 5)
  const count = digits(data, at + CONTENT.count, 9)
  const seen = ((client.index - first) * perSocket + slotOf(client.index, channel, perSocket, channels)) * publishers + publisher
  if (count <= seenCounts[seen]!) duplicates++
  else seenCounts[seen] = count
  if (measuring) latency.record(nowUs() - digits(data, at + CONTENT.time, 13))
  if (config.window !== undefined && publisher === client.publisher) publish(client)
}

function onControl (client: Client, payload: Buffer): void {
  if (payload.includes(SUBSCRIBED_BYTES)) {
    if (++client.subscribed === perSocket) client.onSubscribed()
    return
  }
  if (kind === 'socket.io-rooms') {
    if (payload[0] === 0x30) client.socket.sendText('40')
    else if (payload[0] === 0x34 && payload[1] === 0x30) client.onSocketIoOpen()
    else if (payload.length === 1 && payload[0] === 0x32) client.socket.sendText('3')
    return
  }
  if (payload.includes(ERROR_BYTES)) {
    if (!publishing) throw new Error(`refused while subscribing: ${payload.toString()}`)
    refused++
    const channel = /"channel":"c(\d+)"/.exec(payload.toString())
    if (channel !== null) expected -= members[Number(channel[1])]!
    if (config.window !== undefined && client.publisher >= 0) setTimeout(() => publish(client), 1)
  }
}

function path (): string {
  if (kind === 'service') return '/ws'
  if (kind === 'socket.io-rooms') return '/socket.io/?EIO=4&transport=websocket'
  return '/'
}

/** Opens one socket and resolves once it is subscribed to all its channels. */
function open (index: number): Promise<void> {
  const mine = channelsOf(index, perSocket, channels)
  const headers = sign === undefined ? undefined : { authorization: `Bearer ${sign({ id: `u${index}`, groups: mine.map((channel) => names[channel]!) })}` }
  const client = { index, channels: mine, publisher: index < publishers ? index : -1, nextSlot: 0, subscribed: 0 } as Client
  const subscribed = new Promise<void>((resolve) => { client.onSubscribed = resolve })
  const socketIoOpen = new Promise<void>((resolve) => { client.onSocketIoOpen = resolve })
  const onFrame = (data: Buffer, start: number, end: number) => onText(client, data, start, end)
  client.socket = new LeanSocket({ port: config.port, path: path(), headers, onText: onFrame })
  clients.push(client)
  return (async () => {
    await client.socket.opened
    if (kind === 'socket.io-rooms') await socketIoOpen
    for (const channel of mine) client.socket.sendText(frames.subscribe(kind, names[channel]!))
    await subscribed
  })()
}

async function connectAll (): Promise<void> {
  const batch = 200
  for (let start = first; start < first + config.count; start += batch) {
    const opening: Array<Promise<void>> = []
    for (let index = start; index < Math.min(first + config.count, start + batch); index++) opening.push(open(index))
    await Promise.all(opening)
  }
}

async function run (): Promise<ManyResult> {
  await connectAll()
  const senders = clients.filter((client) => client.publisher >= 0)
  let timer: NodeJS.Timeout | undefined
  const started = performance.now()
  publishing = true
  if (config.window !== undefined) {
    for (const client of senders) for (let i = 0; i < config.window; i++) publish(client)
  } else {
    let next = 0
    timer = setInterval(() => {
      const due = Math.floor(((performance.now() - started) / 1000) * config.rate!)
      while (published < due) publish(senders[next++ % senders.length]!)
    }, 2)
  }
  const { measuredSeconds, deliveredInWindow, cpu } = await measureWindow(config, () => delivered, (on) => { measuring = on })
  publishing = false
  clearInterval(timer)
  const drainUntil = performance.now() + 5_000
  const drained = () => delivered - duplicates >= expected
  while (!drained() && performance.now() < drainUntil) await sleep(20)
  for (const client of clients) client.socket.close()
  return {
    published,
    delivered,
    deliveredPerSecond: Math.round(deliveredInWindow / measuredSeconds),
    expected,
    duplicates,
    lost: expected - (delivered - duplicates),
    refused,
    latencyMs: latency.summary(),
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
