import type { WebSocket } from 'ws'
import type { Subscriber } from './hub.js'

/** A client that cannot keep up is dropped rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024

/**
 * A WebSocket as a hub subscriber. While it catches up on missed messages, live messages are
 * held back, then sent after the missed ones, skipping any that the catch-up already sent.
 */
export class SocketSubscriber implements Subscriber {
  readonly #socket: WebSocket
  #held: Array<[string, Buffer]> | undefined

  constructor (socket: WebSocket, options: { holdLive: boolean }) {
    this.#socket = socket
    this.#held = options.holdLive ? [] : undefined
  }

  deliver (messageId: string, frame: Buffer): void {
    if (this.#held !== undefined) {
      this.#held.push([messageId, frame])
      return
    }
    if (this.#socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.#socket.terminate()
      return
    }
    this.#socket.send(frame, { binary: false })
  }

  /** Sends the missed messages, then the live ones held meanwhile, and goes live. */
  release (missed: Array<{ id: string }>): void {
    const held = this.#held ?? []
    this.#held = undefined
    const sent = new Set(missed.map((message) => message.id))
    for (const message of missed) this.#socket.send(JSON.stringify(message))
    for (const [messageId, frame] of held) {
      if (!sent.has(messageId)) this.deliver(messageId, frame)
    }
  }

  close (code: number, reason: string): void {
    this.#socket.close(code, reason)
  }
}
