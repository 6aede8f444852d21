// Baseline: the least a WebSocket broadcast server can do with `ws`. Clients join the channel
// of their URL (?channel=...); each text frame is sent, as received, to every client of it.
import { WebSocketServer, type WebSocket } from 'ws'

const channels = new Map<string, Set<WebSocket>>()
const server = new WebSocketServer({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' })

server.on('connection', (socket, request) => {
  const channel = new URL(request.url ?? '/', 'http://x').searchParams.get('channel') ?? ''
  let members = channels.get(channel)
  if (members === undefined) channels.set(channel, members = new Set())
  members.add(socket)
  socket.on('close', () => members!.delete(socket))
  socket.on('message', (data: Buffer, isBinary) => {
    for (const member of members!) member.send(data, { binary: isBinary })
  })
})
server.on('listening', () => console.log(`listening ${(server.address() as { port: number }).port}`))
process.on('SIGTERM', () => process.exit(0))
