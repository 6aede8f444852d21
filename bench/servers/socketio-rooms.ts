// Baseline for many channels per socket: a minimal Socket.IO 4 server whose clients join rooms
// at will. A "subscribe" event joins the room (answered "subscribed"), "unsubscribe" leaves it;
// a "msg" event (room, payload) is emitted to everyone in the room.
import { createServer } from 'node:http'
import { Server } from 'socket.io'

const http = createServer()
const io = new Server(http, { transports: ['websocket'], serveClient: false })
io.on('connection', (socket) => {
  socket.on('subscribe', (channel: string) => {
    socket.join(channel)
    socket.emit('subscribed', channel)
  })
  socket.on('unsubscribe', (channel: string) => {
    socket.leave(channel)
    socket.emit('unsubscribed', channel)
  })
  socket.on('msg', (channel: string, payload: string) => { io.to(channel).emit('msg', channel, payload) })
})
http.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => console.log(`listening ${(http.address() as { port: number }).port}`))
