// A REST load generator for `npm run bench:auth`: its own process, keep-alive connections over
// plain `net` sockets, one request in flight per connection, requests built once. Reads a JSON
// config from argv[2]; prints measure-start and measure-end events, then one JSON result line.
import { connect, type Socket } from 'node:net'

export interface RestGeneratorConfig {
  port: number
  path: string
  body: string
  /** Bearer tokens, used in turn: connection c sends tokens[c], tokens[c + connections], ... */
  tokens: string[]
  connections: number
  durationMs: number
  warmupMs: number
}

export interface RestGeneratorResult {
  requests: number
  perSecond: number
  /** Responses by status code, in the measured window. */
  statuses: Record<string, number>
  generatorCpuSeconds: number
  measuredSeconds: number
}

const HEADER_END = Buffer.from('\r\n\r\n')
const config = JSON.parse(process.argv[2]!) as RestGeneratorConfig
const requests = config.tokens.map((token) => Buffer.from(
  `POST ${config.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
  `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(config.body)}\r\n\r\n${config.body}`))

let measuring = false
let running = true
let counted = 0
const statuses: Record<string, number> = {}

function drive (connection: number): Socket {
  const socket = connect(config.port, '127.0.0.1')
  socket.setNoDelay(true)
  let next = connection
  let pending: Buffer | undefined
  const send = (): void => {
    if (!running) return
    socket.write(requests[next % requests.length]!)
    next += config.connections
  }
  socket.on('connect', send)
  socket.on('data', (chunk: Buffer) => {
    let data = pending === undefined ? chunk : Buffer.concat([pending, chunk])
    pending = undefined
    for (;;) {
      const end = data.indexOf(HEADER_END)
      if (end === -1) break
      const head = data.toString('latin1', 0, end)
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0)
      if (data.length < end + 4 + length) break
      if (measuring) {
        const status = head.slice(9, 12)
        statuses[status] = (statuses[status] ?? 0) + 1
        counted++
      }
      data = data.subarray(end + 4 + length)
      send()
    }
    if (data.length > 0) pending = data
  })
  socket.on('error', (error) => { console.error(`connection ${connection}: ${error.message}`); process.exit(1) })
  return socket
}

const sockets = Array.from({ length: config.connections }, (_, connection) => drive(connection))
await new Promise((resolve) => setTimeout(resolve, config.warmupMs))
const cpuStart = process.cpuUsage()
const started = performance.now()
measuring = true
console.log(JSON.stringify({ event: 'measure-start' }))
await new Promise((resolve) => setTimeout(resolve, config.durationMs))
measuring = false
console.log(JSON.stringify({ event: 'measure-end' }))
const measuredSeconds = (performance.now() - started) / 1000
const cpu = process.cpuUsage(cpuStart)
running = false
for (const socket of sockets) socket.destroy()
console.log(JSON.stringify({
  requests: counted,
  perSecond: Math.round(counted / measuredSeconds),
  statuses,
  generatorCpuSeconds: (cpu.user + cpu.system) / 1e6,
  measuredSeconds
} satisfies RestGeneratorResult))
process.exit(0)
