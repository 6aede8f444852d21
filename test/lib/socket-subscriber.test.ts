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
  const { socket, sent, terminated } = fakeSocket(9 * 1024 * 1024)
  new SocketSubscriber(socket, { holdLive: false }).deliver('01', frame('01'))
  t.ok(terminated())
  t.same(sent, [])
})

t.test('a catch-up that holds too many live messages drops the client instead of growing', async (t) => {
  const { socket, terminated } = fakeSocket()
  const subscriber = new SocketSubscriber(socket, { holdLive: true })
  for (let i = 0; i < 10_000; i++) subscriber.deliver(String(i), frame(String(i)))
  t.notOk(terminated())
  subscriber.deliver('one more', frame('one more'))
  t.ok(terminated())
})
