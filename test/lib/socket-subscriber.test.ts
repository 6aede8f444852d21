import t from 'tap'
import type { WebSocket } from 'ws'
import { SocketSubscriber } from '../../lib/socket-subscriber.js'
import { textFrame } from '../../lib/ws-frame.js'

/** A ws-like socket whose TCP writes (pre-framed) and ws sends (catch-up) land in one list. */
function fakeSocket (bufferedAmount = 0) {
  const sent: string[] = []
  let terminated = false
  const socket = {
    OPEN: 1,
    readyState: 1,
    bufferedAmount,
    _socket: { write: (frame: Buffer) => { sent.push(frame.subarray(2).toString()) } },
    send: (data: Buffer | string) => { sent.push(data.toString()) },
    terminate: () => { terminated = true },
    close: () => {}
  }
  return { socket: socket as unknown as WebSocket, sent, terminated: () => terminated }
}

const frame = (seq: number) => textFrame(Buffer.from(JSON.stringify({ seq })))

t.test('while catching up, live messages wait; then missed first, live after, none twice', async (t) => {
  const { socket, sent } = fakeSocket()
  const subscriber = new SocketSubscriber(socket, { holdLive: true })
  subscriber.deliver(3, frame(3))
  subscriber.deliver(4, frame(4))
  t.same(sent, [], 'nothing is sent before the catch-up')
  t.equal(await subscriber.sendMissed([{ seq: 1 }, { seq: 2 }, { seq: 3 }]), true)
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
  const { socket, sent, terminated } = fakeSocket(9 * 1024 * 1024)
  new SocketSubscriber(socket, { holdLive: false }).deliver(1, frame(1))
  t.ok(terminated())
  t.same(sent, [])
})

t.test('a catch-up that holds too many live messages drops the client instead of growing', async (t) => {
  const { socket, terminated } = fakeSocket()
  const subscriber = new SocketSubscriber(socket, { holdLive: true })
  for (let i = 0; i < 10_000; i++) subscriber.deliver(i, frame(i))
  t.notOk(terminated())
  subscriber.deliver(10_000, frame(10_000))
  t.ok(terminated())
})
