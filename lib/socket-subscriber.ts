import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'
import type { Subscriber } from './hub.js'

/** A client that cannot keep up is dropped rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024
/** Live messages held back during a catch-up, at most; a catch-up that slow drops the client. */
const MAX_HELD_MESSAGES = 10_000
/** How long a catch-up waits for the client to read what was already sent. */
const DRAIN_TIMEOUT_MS = 30_000

/**
 * A WebSocket as a hub subscriber. Broadcast frames arrive already framed (see textFrame) and
 * are written straight to the TCP socket: one write of shared bytes per client, instead of a
 * new frame header and a two-buffer writev per client through ws's sender. That is sound
 * because the service never enables permessage-deflate, so ws's sender never queues.
 *
 * While the client catches up on missed messages, live messages are held back, then sent
 * after the missed ones, skipping any that the catch-up already covered (by seq).
 */
export class SocketSubscriber implements Subscriber {
  readonly #socket: WebSocket
  readonly #tcp: Socket | undefined
  #held: Array<[number, Buffer]> | undefined

  constructor (socket: WebSocket, options: { holdLive: boolean }) {
    this.#socket = socket
    this.#tcp = (socket as unknown as { _socket?: Socket })._socket
    this.#held = options.holdLive ? [] : undefined
  }

  deliver (seq: number, frame: Buffer): void {
    if (this.#held !== undefined) {
      if (this.#held.push([seq, frame]) > MAX_HELD_MESSAGES) this.#socket.terminate()
      return
    }
    const socket = this.#socket
    if (socket.readyState !== socket.OPEN) return
    if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      socket.terminate()
      return
    }
    if (this.#tcp === undefined) socket.send(frame.subarray(frameHeaderLength(frame)), { binary: false })
    else this.#tcp.write(frame)
  }

  /**
   * Sends missed messages, pausing whenever the client has more than MAX_BUFFERED_BYTES unread.
   * False when the client is gone or was dropped for not reading.
   */
  async sendMissed (missed: readonly object[]): Promise<boolean> {
    const socket = this.#socket
    for (const message of missed) {
      if (socket.readyState !== socket.OPEN) return false
      socket.send(JSON.stringify(message))
      if (socket.bufferedAmount > MAX_BUFFERED_BYTES && !await this.#drained()) {
        socket.terminate()
        return false
      }
    }
    return socket.readyState === socket.OPEN
  }

  /** Ends the catch-up: sends the live messages held meanwhile that come after `coveredSeq`, then lets messages through. */
  goLive (coveredSeq: number): void {
    const held = this.#held ?? []
    this.#held = undefined
    for (const [seq, frame] of held) {
      if (seq > coveredSeq) this.deliver(seq, frame)
    }
  }

  /** Resolves true once the client has read what is buffered, false if it does not in time. */
  #drained (): Promise<boolean> {
    const tcp = this.#tcp
    if (tcp === undefined) return Promise.resolve(true)
    return new Promise((resolve) => {
      const done = (result: boolean): void => {
        clearTimeout(timer)
        tcp.removeListener('drain', onDrain)
        tcp.removeListener('close', onClose)
        resolve(result)
      }
      const onDrain = (): void => done(true)
      const onClose = (): void => done(false)
      const timer = setTimeout(() => done(false), DRAIN_TIMEOUT_MS)
      tcp.once('drain', onDrain)
      tcp.once('close', onClose)
    })
  }

  close (code: number, reason: string): void {
    this.#socket.close(code, reason)
  }
}

function frameHeaderLength (frame: Buffer): number {
  const length = frame[1]! & 0x7f
  return length < 126 ? 2 : length === 126 ? 4 : 10
}
