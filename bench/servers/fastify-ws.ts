// Baseline: the broadcast of raw-ws.ts written as a minimal Fastify app with @fastify/websocket,
// the stack the service is built on. Clients join the channel of their URL (?channel=...); each
// text frame is sent, as received, to every client of it. What it costs above raw `ws` is the
// framework's share: the upgrade routed through Fastify, the plugin's wiring of each socket.
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import websocket from '@fastify/websocket'
import type { WebSocket } from 'ws'

const channels = new Map<string, Set<WebSocket>>()
const app = Fastify({ logger: false })
await app.register(websocket)
app.get<{ Querystring: { channel?: string } }>('/', { websocket: true }, (socket, request) => {
  const channel = request.query.channel ?? ''
  let members = channels.get(channel)
  if (members === undefined) channels.set(channel, members = new Set())
  members.add(socket)
  socket.on('close', () => members.delete(socket))
  socket.on('message', (data: Buffer, isBinary: boolean) => {
    for (const member of members) member.send(data, { binary: isBinary })
  })
})
await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' })
console.log(`listening ${(app.server.address() as AddressInfo).port}`)
process.on('SIGTERM', () => process.exit(0))
