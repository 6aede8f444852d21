import t from 'tap'
import { EventEmitter } from 'node:events'
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { WebSocket } from 'ws'
import { Connection } from '../../../lib/delivery/connection.js'
import { Subscription } from '../../../lib/delivery/subscription.js'
import { textFrameOf } from '../../../lib/delivery/frame-bytes.js'

/** The payloads of the small (< 126 bytes) text frames in one TCP write. */
function payloads (data: Buffer): string[] {
  const texts: string[] = []
  for (let offset = 0; offset < data.length; offset += 2 + data[offset + 1]!) texts.push(data.toString('utf8', offset + 2, offset + 2 + data[offset + 1]!))
  return texts
}

/** A ws-like socket whose TCP writes (pre-framed) and ws sends (catch-up, close) land in one list. */
function fakeSocket (bufferedAmount = 0) {
  const sent: string[] = []
  const writes: Buffer[] = []
  let cutOff: Error | undefined
  const socket = Object.assign(new EventEmitter(), {
    OPEN: 1,
    CLOSED: 3,
    readyState: 1,
    bufferedAmount,
    closeFrames: [] as Array<[number, string]>,
    _socket: {
      write: (data: Buffer) => {
        writes.push(data)
        sent.push(...payloads(data))
      },
      destroy: (error: Error) => {
        cutOff = error
        socket.readyState = 3
        setImmediate(() => socket.emit('close'))
      }
    },
    send: (data: Buffer | string) => { sent.push(data.toString()) },
    close: (code: number, reason: string) => {
      sent.push(`close ${code}`)
      socket.closeFrames.push([code, reason])
    }
  })
  return { socket: socket as unknown as WebSocket, fake: socket, sent, writes, cutOff: () => cutOff }
}

const frame = (seq: number) => textFrameOf(JSON.stringify({ seq }))

/** One channel's subscription on a connection, with the connection's own send for acks. */
function subscriberOf (socket: WebSocket, options: { holdLive: boolean }) {
  const connection = new Connection(socket, 'ann')
  return Object.assign(new Subscription(connection, 'g1', options), { send: (text: string) => connection.send(text) })
}

t.test('while catching up, live messages wait; then missed first, live after, none twice', async (t) => {
  const { socket, sent } = fakeSocket()
  const subscriber = subscriberOf(socket, { holdLive: true })
  subscriber.deliver(3, frame(3), 1)
  subscriber.deliver(4, frame(4), 1)
  t.same(sent, [], 'nothing is sent before the catch-up')
  t.equal(subscriber.sendMissed([{ seq: 1 }, { seq: 2 }, { seq: 3 }]), 3 * '{"seq":1}'.length, 'the bytes written')
  subscriber.goLive(3)
  subscriber.deliver(5, frame(5), 1)
  await nextTurn()
  t.same(sent.map((data) => JSON.parse(data).seq), [1, 2, 3, 4, 5])
})

const run = (from: number, count: number) => Buffer.concat(Array.from({ length: count }, (_, i) => frame(from + i)))

t.test('a run of frames that the catch-up covers in part goes out from the first seq it does not cover', async (t) => {
  const { socket, sent } = fakeSocket()
  const subscriber = subscriberOf(socket, { holdLive: true })
  subscriber.deliver(3, run(3, 3), 3)
  subscriber.deliver(6, run(6, 2), 2)
  subscriber.sendMissed([{ seq: 1 }, { seq: 2 }, { seq: 3 }, { seq: 4 }])
  subscriber.goLive(4)
  await nextTurn()
  t.same(sent.map((data) => JSON.parse(data).seq), [1, 2, 3, 4, 5, 6, 7])
})

t.test('without a TCP socket underneath, each frame of a run is sent through ws, in order', async (t) => {
  const { socket, fake, sent } = fakeSocket()
  delete (fake as { _socket?: unknown })._socket
  const subscriber = subscriberOf(socket, { holdLive: false })
  subscriber.deliver(1, run(1, 2), 2)
  subscriber.send('{"ack":1}')
  await nextTurn()
  t.same(sent, ['{"seq":1}', '{"seq":2}', '{"ack":1}'])
})

t.test('without catch-up, messages go out at the end of the turn', async (t) => {
  const { socket, sent } = fakeSocket()
  subscriberOf(socket, { holdLive: false }).deliver(1, frame(1), 1)
  t.equal(sent.length, 0)
  await nextTurn()
  t.equal(sent.length, 1)
})

t.test('the frames of one turn, acks included, go out in one write each socket, in order', async (t) => {
  const sockets = [fakeSocket(), fakeSocket()]
  const subscribers = sockets.map(({ socket }) => subscriberOf(socket, { holdLive: false }))
  for (const subscriber of subscribers) subscriber.deliver(1, frame(1), 1)
  subscribers[0]!.send('{"ack":1}')
  for (const subscriber of subscribers) subscriber.deliver(2, frame(2), 1)
  await nextTurn()
  t.same(sockets.map(({ writes }) => writes.length), [1, 1])
  t.same(sockets[0]!.sent, ['{"seq":1}', '{"ack":1}', '{"seq":2}'])
  t.same(sockets[1]!.sent, ['{"seq":1}', '{"seq":2}'])
  subscribers[1]!.deliver(3, frame(3), 1)
  await nextTurn()
  t.same(sockets[1]!.sent, ['{"seq":1}', '{"seq":2}', '{"seq":3}'], 'a later turn writes again')
})

t.test('what waits is written before a catch-up page and before the close frame', async (t) => {
  const { socket, sent } = fakeSocket()
  const subscriber = subscriberOf(socket, { holdLive: true })
  subscriber.send('{"error":1}')
  await subscriber.sendMissed([{ seq: 1 }])
  subscriber.goLive(1)
  subscriber.deliver(2, frame(2), 1)
  void subscriber.close(1001, 'bye')
  t.same(sent, ['{"error":1}', '{"seq":1}', '{"seq":2}', 'close 1001'])
})

t.test('a client that does not read is dropped instead of buffered without bound', async (t) => {
  const { socket, sent, cutOff } = fakeSocket(9 * 1024 * 1024)
  subscriberOf(socket, { holdLive: false }).deliver(1, frame(1), 1)
  // Checked once per turn, when the turn's frames would be written.
  t.equal(cutOff(), undefined)
  await nextTurn()
  // With an error, so that Node does not build one for each write still buffered.
  t.match(cutOff(), { message: /does not read/ })
  t.same(sent, [])
})

t.test('a catch-up that holds too many live messages drops the client instead of growing', async (t) => {
  const { socket, cutOff } = fakeSocket()
  const subscriber = subscriberOf(socket, { holdLive: true })
  for (let i = 0; i < 10_000; i++) subscriber.deliver(i, frame(i), 1)
  t.equal(cutOff(), undefined)
  subscriber.deliver(10_000, frame(10_000), 1)
  t.ok(cutOff())
})

t.test('the held limit counts messages, not runs', async (t) => {
  const { socket, cutOff } = fakeSocket()
  const subscriber = subscriberOf(socket, { holdLive: true })
  subscriber.deliver(0, run(0, 9_999), 9_999)
  subscriber.deliver(9_999, frame(9_999), 1)
  t.equal(cutOff(), undefined)
  subscriber.deliver(10_000, run(10_000, 2), 2)
  t.ok(cutOff())
})

t.test('close: a client that answers the closing handshake is not cut off', async (t) => {
  const { socket, fake, cutOff } = fakeSocket()
  const closed = subscriberOf(socket, { holdLive: false }).close(1001, 'bye', 60_000)
  t.same(fake.closeFrames, [[1001, 'bye']])
  fake.readyState = 3
  fake.emit('close')
  await closed
  t.equal(cutOff(), undefined)
})

t.test('close: a client that does not answer within the grace is cut off, and then counts as closed', async (t) => {
  const { socket, cutOff } = fakeSocket()
  const started = Date.now()
  await subscriberOf(socket, { holdLive: false }).close(1001, 'bye', 50)
  t.ok(cutOff())
  t.ok(Date.now() - started >= 45, 'not before the grace')
})
