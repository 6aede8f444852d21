// Baseline for many channels per socket: the least a `ws` server with rooms can do. A client
// sends {"subscribe": {"channel": ...}} (answered {"subscribed": ...}) or {"unsubscribe": ...};
// any other frame names a channel and is sent, as received, to every member of its room.
import { WebSocketServer, type WebSocket } from 'ws'

const rooms = new Map<string, Set<WebSocket>>()
const server = new WebSocketServer({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' })

function leave (socket: WebSocket, channel: string): void {
  const members = rooms.get(channel)
  members?.delete(socket)
  if (members?.size === 0) rooms.delete(channel)
}

server.on('connection', (socket) => {
  const joined = new Set<string>()
  socket.on('close', () => { for (const channel of joined) leave(socket, channel) })
  socket.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString()) as { subscribe?: { channel: string }, unsubscribe?: { channel: string }, channel?: string }
    if (frame.subscribe !== undefined) {
      const { channel } = frame.subscribe
      let members = rooms.get(channel)
      if (members === undefined) rooms.set(channel, members = new Set())
      members.add(socket)
      joined.add(channel)
      socket.send(`{"subscribed":{"channel":"${channel}"}}`)
    } else if (frame.unsubscribe !== undefined) {
      leave(socket, frame.unsubscribe.channel)
      joined.delete(frame.unsubscribe.channel)
      socket.send(`{"unsubscribed":{"channel":"${frame.unsubscribe.channel}"}}`)
    } else {
      for (const member of rooms.get(frame.channel ?? '') ?? []) member.send(data, { binary: false })
    }
  })
})
server.on('listening', () => console.log(`listening ${(server.address() as { port: number }).port}`))
process.on('SIGTERM', () => process.exit(0))
