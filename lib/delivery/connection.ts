import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'
import { framePayloads, textFrameOf } from './frame-bytes.js'

/** A client that cannot keep up is dropped rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024
/** How long a catch-up waits for the client to read what was already sent. */
const DRAIN_TIMEOUT_MS = 30_000

/** Connections with frames waiting for the end of the event-loop turn, written all at once then. */
const waiting: Connection[] = []
let flushScheduled = false

function flushWaiting (): void {
  flushScheduled = false
  for (const connection of waiting) connection.flush()
  waiting.length = 0
}

/**
 * One client's WebSocket, whatever channels it is subscribed to (each through a Subscription).
 * Broadcast frames arrive already framed (see textFrameOf) and are written straight to the TCP
 * socket, instead of a new frame header and a two-buffer writev per client through ws's sender.
 * That is sound because the service never enables
 * permessage-deflate, so ws's sender never queues. Frames (broadcasts, acks, errors) wait for
 * the end of the event-loop turn, so a client gets one write per turn however many messages
 * its channels had: a write is a system call, the largest cost of a delivery. Anything sent
 * through ws itself (catch-up pages, the close frame) first flushes what waits, so order holds.
 */
export class Connection {
  /** The `id` claim of the socket's token. */
  readonly user: string
  /** When anything (a frame, a ping, a pong) last arrived from the client, for the heartbeat. */
  heardAt = Date.now()
  /** When the heartbeat last pinged the client. */
  pingedAt = Date.now()
  readonly #socket: WebSocket
  readonly #tcp: Socket | undefined
  /** Frames waiting for the end of the turn: most turns have one, which needs no array. */
  #first: Buffer | undefined
  #more: Buffer[] | undefined

  constructor (socket: WebSocket, user: string) {
    this.#socket = socket
    this.user = user
    this.#tcp = (socket as unknown as { _socket?: Socket })._socket
    const heard = (): void => { this.heardAt = Date.now() }
    socket.on('message', heard)
    socket.on('pong', heard)
    socket.on('ping', heard)
  }

  /**
   * Sends a text frame of its own (an ack, an error) after the frames queued before it. A client
   * that does not read these answers to its own frames is dropped, as for broadcasts.
   */
  send (text: string): void {
    this.queue(textFrameOf(text))
  }

  /** Whether the socket is still open (not closing or closed). */
  get isOpen (): boolean {
    return this.#socket.readyState === this.#socket.OPEN
  }

  /** Sends a WebSocket ping control frame (after the frames queued before it). */
  ping (): void {
    this.flush()
    if (this.isOpen) this.#socket.ping()
  }

  /**
   * Whether the socket is open and keeping up; one that is more than MAX_BUFFERED_BYTES behind is
   * dropped. Asked once per turn, when the turn's frames are written, not for every frame: reading
   * a socket's buffer state for each of a broadcast's clients was a measurable part of its cost.
   */
  #canTake (): boolean {
    const socket = this.#socket
    if (socket.readyState !== socket.OPEN) return false
    if (socket.bufferedAmount <= MAX_BUFFERED_BYTES) return true
    this.drop()
    return false
  }

  /** Queues ready frames for the end of the turn. */
  queue (frames: Buffer): void {
    if (this.#first === undefined) {
      this.#first = frames
      waiting.push(this)
      if (!flushScheduled) {
        flushScheduled = true
        setImmediate(flushWaiting)
      }
    } else if (this.#more === undefined) {
      this.#more = [frames]
    } else {
      this.#more.push(frames)
    }
  }

  /** Writes the frames queued this turn, in one write. */
  flush (): void {
    const first = this.#first
    if (first === undefined) return
    const more = this.#more
    this.#first = undefined
    this.#more = undefined
    const socket = this.#socket
    const tcp = this.#tcp
    if (!this.#canTake() || tcp?.destroyed === true) return
    if (tcp !== undefined) {
      tcp.write(more === undefined ? first : Buffer.concat([first, ...more]))
      return
    }
    for (const frames of [first, ...more ?? []]) {
      for (const payload of framePayloads(frames)) socket.send(payload, { binary: false })
    }
  }

  /**
   * Sends missed messages: the bytes written, or undefined when the client is gone. The caller
   * waits for `taken` before sending more.
   */
  sendMissed (missed: readonly object[]): number | undefined {
    const socket = this.#socket
    let bytes = 0
    this.flush()
    for (const message of missed) {
      if (socket.readyState !== socket.OPEN) return undefined
      const json = JSON.stringify(message)
      bytes += Buffer.byteLength(json)
      socket.send(json)
    }
    return socket.readyState === socket.OPEN ? bytes : undefined
  }

  /**
   * Resolves true once the client has taken what it was sent (no more than the TCP socket's
   * high-water mark is left in this process), false when it is gone or, not reading within
   * DRAIN_TIMEOUT_MS, was dropped.
   */
  async taken (): Promise<boolean> {
    const socket = this.#socket
    if (socket.readyState !== socket.OPEN) return false
    if (this.#tcp?.writableNeedDrain !== true) return true
    if (await this.#drained()) return socket.readyState === socket.OPEN
    this.drop()
    return false
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

  /**
   * Starts the closing handshake and cuts the connection of a client that has not finished it
   * within `graceMs` (one that does not read, say); without it, ws gives up after 30 s.
   * Resolves once the socket is closed.
   */
  close (code: number, reason: string, graceMs?: number): Promise<void> {
    const socket = this.#socket
    if (socket.readyState === socket.CLOSED) return Promise.resolve()
    this.flush()
    return new Promise((resolve) => {
      const timer = graceMs === undefined ? undefined : setTimeout(() => this.drop(), graceMs)
      socket.once('close', () => {
        clearTimeout(timer)
        resolve()
      })
      socket.close(code, reason)
    })
  }

  /**
   * Cuts the connection at once. Not ws's terminate(): it destroys the TCP socket without an
   * error, and Node then builds a new ERR_STREAM_DESTROYED, stack trace and all, for each write
   * still buffered. A client dropped at the buffer limit has thousands of them; ten such
   * clients dropped by one broadcast stalled every other client for a quarter of a second.
   * Given an error, the buffered writes all share it.
   */
  drop (): void {
    const tcp = this.#tcp
    if (tcp === undefined) this.#socket.terminate()
    else if (!tcp.destroyed) tcp.destroy(new Error('WebSocket client dropped: it does not read what it is sent'))
  }
}
