// Baseline: a minimal Socket.IO 4 server with rooms. A client joins the room of its
// handshake query (?channel=...); each "msg" event is emitted to everyone in that room.
import { createServer } from 'node:http'
import { Server } from 'socket.io'

const http = createServer()
const io = new Server(http, { transports: ['websocket'], serveClient: false })
io.on('connection', (socket) => {
  const channel = String(socket.handshake.query.channel ?? '')
  socket.join(channel)
  socket.on('msg', (payload: string) => { io.to(channel).emit('msg', payload) })
})
http.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => console.log(`listening ${(http.address() as { port: number }).port}`))
