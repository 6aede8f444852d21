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

const frame = (id: string) => textFrame(Buffer.from(JSON.stringify({ id })))

t.test('while catching up, live messages wait; then missed first, live after, none twice', async (t) => {
  const { socket, sent } = fakeSocket()
  const subscriber = new SocketSubscriber(socket, { holdLive: true })
  subscriber.deliver('03', frame('03'))
  subscriber.deliver('04', frame('04'))
  t.same(sent, [], 'nothing is sent before the catch-up')
  await subscriber.release([{ id: '01' }, { id: '02' }, { id: '03' }])
  subscriber.deliver('05', frame('05'))
  t.same(sent.map((data) => JSON.parse(data).id), ['01', '02', '03', '04', '05'])
})

t.test('without catch-up, messages go straight out', async (t) => {
  const { socket, sent } = fakeSocket()
  new SocketSubscriber(socket, { holdLive: false }).deliver('01', frame('01'))
  t.equal(sent.length, 1)
})

t.test('a client that does not read is dropped instead of buffered without bound', async (t) => {
  const { socket, sent, cutOff } = fakeSocket(9 * 1024 * 1024)
  new SocketSubscriber(socket, { holdLive: false }).deliver('01', frame('01'))
  // With an error, so that Node does not build one for each write still buffered.
  t.match(cutOff(), { message: /does not read/ })
  t.same(sent, [])
})

t.test('a catch-up that holds too many live messages drops the client instead of growing', async (t) => {
  const { socket, cutOff } = fakeSocket()
  const subscriber = new SocketSubscriber(socket, { holdLive: true })
  for (let i = 0; i < 10_000; i++) subscriber.deliver(String(i), frame(String(i)))
  t.equal(cutOff(), undefined)
  subscriber.deliver('one more', frame('one more'))
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
