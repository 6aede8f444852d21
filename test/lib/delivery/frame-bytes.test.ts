import t from 'tap'
import { createRequire } from 'node:module'
import { frameCount, frameLengthAt, framePayloads, skipFrames, textFrameOf } from '../../../lib/delivery/frame-bytes.js'

// ws's frame parser, which its published types leave out.
const { Receiver } = createRequire(import.meta.url)('ws') as { Receiver: new (options: object) => import('node:stream').Writable }

function decode (frame: Buffer): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const receiver = new Receiver({ isServer: false, maxPayload: 0 })
    receiver.on('message', (data: Buffer, isBinary: boolean) => isBinary ? reject(new Error('binary')) : resolve(data))
    receiver.on('error', reject)
    receiver.write(frame)
  })
}

t.test('frames decode with ws\'s own receiver at every length encoding', async (t) => {
  for (const length of [0, 1, 125, 126, 65_535, 65_536, 200_000]) {
    const payload = Buffer.alloc(length, 'a')
    const received = await decode(textFrameOf(payload.toString('latin1')))
    t.equal(received.length, length, `${length} bytes`)
    t.ok(received.equals(payload))
  }
})

t.test('a text framed directly decodes to the same text, multi-byte characters included, at every length encoding', async (t) => {
  for (const text of ['', 'é', 'ü€😀'.repeat(20), 'é'.repeat(63), 'é'.repeat(40_000)]) {
    const received = await decode(textFrameOf(text))
    t.equal(received.toString('utf8'), text, `${Buffer.byteLength(text)} bytes`)
  }
})

t.test('frameLengthAt walks frames laid end to end, at every length encoding', async (t) => {
  const frames = [0, 1, 125, 126, 65_535, 65_536, 200_000].map((length) => textFrameOf('b'.repeat(length)))
  const joined = Buffer.concat([Buffer.from('x'), ...frames])
  let offset = 1
  for (const frame of frames) {
    t.equal(frameLengthAt(joined, offset), frame.length)
    offset += frameLengthAt(joined, offset)
  }
  t.equal(offset, joined.length)
})

t.test('a run of frames laid end to end: counted, skipped into and split into payloads, at every length encoding', async (t) => {
  const texts = [0, 1, 125, 126, 65_535, 65_536, 200_000].map((length) => 'c'.repeat(length))
  const frames = texts.map((text) => textFrameOf(text))
  const run = Buffer.concat(frames)
  t.equal(frameCount(run), texts.length)
  t.same(framePayloads(run).map((payload) => payload.toString()), texts)
  for (let skip = 0; skip <= frames.length; skip++) t.ok(skipFrames(run, skip).equals(Buffer.concat(frames.slice(skip))), `skip ${skip}`)
})
