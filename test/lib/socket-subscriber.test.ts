import t from 'tap'
import { EventEmitter } from 'node:events'
import type { WebSocket } from 'ws'
import { SocketSubscriber } from '../../lib/socket-subscriber.js'
import { textFrame } from '../../lib/ws-frame.js'

/** A ws-like socket whose TCP writes (pre-framed) and ws sends (catch-up) land in one list. */
function fakeSocket (bufferedAmount = 0) {
  const sent: string[] = []
  let cutOff: Error | undefined
  const socket = Object.assign(new EventEmitter(), {
    OPEN: 1,
    CLOSED: 3,
    readyState: 1,
    bufferedAmount,
    closeFrames: [] as Array<[number, string]>,
    _socket: {
      write: (frame: Buffer) => { sent.push(frame.subarray(2).toString()) },
      destroy: (error: Error) => {
        cutOff = error
        socket.readyState = 3
        setImmediate(() => socket.emit('close'))
      }
    },
    send: (data: Buffer | string) => { sent.push(data.toString()) },
    close: (code: number, reason: string) => { socket.closeFrames.push([code, reason]) }
  })
  return { socket: socket as unknown as WebSocket, fake: socket, sent, cutOff: () => cutOff }
}

const frame = (seq: number) => textFrame(Buffer.from(JSON.stringify({ seq })))

t.test('while catching up, live messages wait; then missed first, live after, none twice', async (t) => {
  const { socket, sent } = fakeSocket()
  const subscriber = new SocketSubscriber(socket, { holdLive: true })
  subscriber.deliver(3, frame(3))
  subscriber.deliver(4, frame(4))
  t.same(sent, [], 'nothing is sent before the catch-up')
  t.equal(subscriber.sendMissed([{ seq: 1 }, { seq: 2 }, { seq: 3 }]), 3 * '{"seq":1}'.length, 'the bytes written')
  subscriber.goLive(3)
  subscriber.deliver(5, frame(5))
  t.same(sent.map((data) => JSON.parse(data).seq), [1, 2, 3, 4, 5])
})

t.test('without catch-up, messages go straight out', async (t) => {
  const { socket, sent } = fakeSocket()
  new SocketSubscriber(socket, { holdLive: false }).deliver(1, frame(1))
  t.equal(sent.length, 1)
})

t.test('a client that does not read is dropped instead of buffered without bound', async (t) => {
  const { socket, sent, cutOff } = fakeSocket(9 * 1024 * 1024)
  new SocketSubscriber(socket, { holdLive: false }).deliver(1, frame(1))
  // With an error, so that Node does not build one for each write still buffered.
  t.match(cutOff(), { message: /does not read/ })
  t.same(sent, [])
})

t.test('a catch-up that holds too many live messages drops the client instead of growing', async (t) => {
  const { socket, cutOff } = fakeSocket()
  const subscriber = new SocketSubscriber(socket, { holdLive: true })
  for (let i = 0; i < 10_000; i++) subscriber.deliver(i, frame(i))
  t.equal(cutOff(), undefined)
  subscriber.deliver(10_000, frame(10_000))
  t.ok(cutOff())
})

t.test('close: a client that answers the closing handshake is not cut off', async (t) => {
  const { socket, fake, cutOff } = fakeSocket()
  const closed = new SocketSubscriber(socket, { holdLive: false }).close(1001, 'bye', 60_000)
  t.same(fake.closeFrames, [[1001, 'bye']])
  fake.readyState = 3
  fake.emit('close')
  await closed
  t.equal(cutOff(), undefined)
})

t.test('close: a client that does not answer within the grace is cut off, and then counts as closed', async (t) => {
  const { socket, cutOff } = fakeSocket()
  const started = Date.now()
  await new SocketSubscriber(socket, { holdLive: false }).close(1001, 'bye', 50)
  t.ok(cutOff())
  t.ok(Date.now() - started >= 45, 'not before the grace')
})
