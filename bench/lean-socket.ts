// A minimal RFC 6455 client over a plain TCP socket, cheap enough per message that the load
// generator does not measure itself: frames are parsed in place, outgoing frames use an
// all-zero mask (valid, and a no-op), and nothing is decoded unless asked.
import { connect, type Socket } from 'node:net'

export interface LeanSocketOptions {
  port: number
  path: string
  headers?: Record<string, string>
  /** A text frame: its payload is data[start, end), not copied. */
  onText: (data: Buffer, start: number, end: number) => void
}

const HANDSHAKE_END = Buffer.from('\r\n\r\n')

export class LeanSocket {
  readonly #socket: Socket
  readonly #onText: (data: Buffer, start: number, end: number) => void
  #pending: Buffer | undefined
  #upgraded = false
  readonly opened: Promise<void>
  closed = false

  constructor (options: LeanSocketOptions) {
    this.#onText = options.onText
    this.#socket = connect(options.port, '127.0.0.1')
    this.#socket.setNoDelay(true)
    const headers = Object.entries(options.headers ?? {}).map(([name, value]) => `${name}: ${value}\r\n`).join('')
    this.#socket.write(`GET ${options.path} HTTP/1.1\r\nHost: 127.0.0.1:${options.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${headers}\r\n`)
    this.opened = new Promise((resolve, reject) => {
      this.#socket.on('error', reject)
      this.#socket.on('close', () => { this.closed = true; reject(new Error('closed before the upgrade')) })
      this.#socket.on('data', (chunk: Buffer) => {
        if (this.#upgraded) return this.#frames(chunk)
        const data = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk])
        const end = data.indexOf(HANDSHAKE_END)
        if (end === -1) { this.#pending = data; return }
        this.#pending = undefined
        const status = data.toString('latin1', 0, data.indexOf('\r\n'))
        if (!/^HTTP\/1\.1 101/.test(status)) return reject(new Error(`upgrade refused: ${status}`))
        this.#upgraded = true
        resolve()
        if (end + 4 < data.length) this.#frames(data.subarray(end + 4))
      })
    })
  }

  sendText (text: string): void {
    const length = Buffer.byteLength(text)
    const header = length < 126 ? 6 : length < 65536 ? 8 : 14
    const frame = Buffer.allocUnsafe(header + length)
    frame[0] = 0x81
    if (length < 126) {
      frame[1] = 0x80 | length
    } else if (length < 65536) {
      frame[1] = 0x80 | 126
      frame.writeUInt16BE(length, 2)
    } else {
      frame[1] = 0x80 | 127
      frame.writeBigUInt64BE(BigInt(length), 2)
    }
    frame.writeUInt32BE(0, header - 4)
    frame.write(text, header, 'utf8')
    this.#socket.write(frame)
  }

  close (): void {
    this.#socket.destroy()
  }

  #frames (chunk: Buffer): void {
    const data = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk])
    this.#pending = undefined
    let offset = 0
    while (data.length - offset >= 2) {
      const opcode = data[offset]! & 0x0f
      let length = data[offset + 1]! & 0x7f
      let start = offset + 2
      if (length === 126) {
        if (data.length - offset < 4) break
        length = data.readUInt16BE(offset + 2)
        start = offset + 4
      } else if (length === 127) {
        if (data.length - offset < 10) break
        length = Number(data.readBigUInt64BE(offset + 2))
        start = offset + 10
      }
      if (data.length < start + length) break
      if (opcode === 0x1) this.#onText(data, start, start + length)
      else if (opcode === 0x9) this.#control(0x8a, data.subarray(start, start + length))
      else if (opcode === 0x8) this.close()
      offset = start + length
    }
    if (offset < data.length) this.#pending = data.subarray(offset)
  }

  #control (opcode: number, payload: Buffer): void {
    const frame = Buffer.alloc(6 + payload.length)
    frame[0] = opcode
    frame[1] = 0x80 | payload.length
    payload.copy(frame, 6)
    this.#socket.write(frame)
  }
}
