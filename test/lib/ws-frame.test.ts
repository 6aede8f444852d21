import t from 'tap'
import { createRequire } from 'node:module'
import { textFrame } from '../../lib/ws-frame.js'

// ws's frame parser, which its published types leave out.
const { Receiver } = createRequire(import.meta.url)('ws') as { Receiver: new (options: object) => import('node:stream').Writable }

t.test('frames decode with ws\'s own receiver at every length encoding', async (t) => {
  for (const length of [0, 1, 125, 126, 65_535, 65_536, 200_000]) {
    const payload = Buffer.alloc(length, 'a')
    const received = await new Promise<Buffer>((resolve, reject) => {
      const receiver = new Receiver({ isServer: false, maxPayload: 0 })
      receiver.on('message', (data: Buffer, isBinary: boolean) => isBinary ? reject(new Error('binary')) : resolve(data))
      receiver.on('error', reject)
      receiver.write(textFrame(payload))
    })
    t.equal(received.length, length, `${length} bytes`)
    t.ok(received.equals(payload))
  }
})
