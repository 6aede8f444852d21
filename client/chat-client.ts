import { reconnectDelay } from './backoff.js'
import { ChatError, isErrorBody, isMessage, readFrame, type ChatMessage, type ErrorBody } from './frames.js'
import { RecentMessages } from './recent-messages.js'

/** The close code of a socket whose token expired: reconnect at once with a fresh one. */
const TOKEN_EXPIRED = 4001
/** The refusals of a frame; other error frames (about a catch-up) concern no send. */
const FRAME_REFUSALS = ['CHAT_INVALID_MESSAGE', 'CHAT_UNAVAILABLE']
/** The largest page of the history endpoint. */
const HISTORY_PAGE = 200
const OPEN = 1

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed'

/** The parts of a WebSocket the client uses; browsers', Node 22's and the `ws` package's all have them. */
interface Socket {
  readonly readyState: number
  send (data: string): void
  close (code?: number, reason?: string): void
  onopen: ((event: unknown) => void) | null
  onmessage: ((event: { data: unknown }) => void) | null
  onclose: ((event: { code: number, reason: string }) => void) | null
  onerror: ((event: unknown) => void) | null
}

/** A WebSocket class: the global one, or e.g. `WebSocket` from the `ws` package. */
export type WebSocketImplementation = new (url: string, protocols: string[]) => object

export interface ChatClientOptions {
  /** The service's base URL, prefix included: `https://chat.example.com` or `http://localhost:3000/chat`. */
  url: string | URL
  channel: string
  /** Asked on every (re)connect, so a reconnect after the token expired uses a fresh one. */
  getToken: () => string | Promise<string>
  /** How many recent messages to deliver (from the history endpoint) before live ones. Default 0. */
  history?: number
  /** Resume after this message id instead of from the newest message at the first connect. */
  since?: string
  /** Defaults to the global `WebSocket` (browsers, Node 22+). */
  WebSocket?: WebSocketImplementation
  /** Backoff between reconnects. Defaults: 500 ms doubling up to 10 s, with jitter. */
  reconnectDelayMs?: { min?: number, max?: number }
  /** How many delivered messages are remembered to drop repeats. Default 1000. */
  rememberMessages?: number
}

export interface ChatClientEvents {
  /** Every message of the channel, once, in the order the service sent them. */
  message: (message: ChatMessage) => void
  state: (state: ConnectionState) => void
  /** Refusals that concern no single send (those reject its promise), and connection failures. */
  error: (error: Error) => void
}

interface PendingSend {
  clientId: string
  content: string
  resolve: (message: ChatMessage) => void
  reject: (error: Error) => void
  /** The socket the frame was last written to. */
  socket?: Socket
  /** The message id the service acknowledged it with. */
  ackedAs?: string
}

/**
 * A chat channel over the service's WebSocket that survives reconnects: it reconnects with
 * backoff, resumes with `since=<last id delivered>`, drops messages it already delivered, and
 * sends each message until the service acknowledges it.
 */
export class ChatClient {
  readonly #options: ChatClientOptions
  readonly #WebSocket: WebSocketImplementation
  readonly #restBase: string
  readonly #listeners: { [K in keyof ChatClientEvents]: Set<ChatClientEvents[K]> } = { message: new Set(), state: new Set(), error: new Set() }
  readonly #delivered: RecentMessages<ChatMessage>
  readonly #pending = new Map<string, PendingSend>()
  #state: ConnectionState = 'idle'
  #socket: Socket | undefined
  #lastId: string | undefined
  /** The channel had no message at the first connect: every message it has since is new to the application. */
  #startedEmpty = false
  /** Frames that arrive while the history read that must come before them is under way. */
  #held: unknown[] | undefined
  #attempt = 0
  #timer: ReturnType<typeof setTimeout> | undefined
  /** Bumped by close(): a connect still under way when it ran gives up. */
  #generation = 0
  /** The service acknowledges frames (reliable sends); until it is seen, a send settles on its echo. */
  #serviceAcks = false
  #senderId: string | undefined

  constructor (options: ChatClientOptions) {
    const WebSocketClass = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketImplementation }).WebSocket
    if (WebSocketClass === undefined) throw new TypeError('no global WebSocket here (Node < 22): pass one, e.g. WebSocket from the ws package')
    this.#options = options
    this.#WebSocket = WebSocketClass
    this.#restBase = String(options.url).replace(/\/+$/, '').replace(/^ws/, 'http')
    this.#delivered = new RecentMessages(options.rememberMessages ?? 1000)
    this.#lastId = options.since
  }

  get state (): ConnectionState {
    return this.#state
  }

  /** The id of the last message delivered: where the next reconnect resumes. */
  get lastId (): string | undefined {
    return this.#lastId
  }

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof ChatClientEvents> (event: K, listener: ChatClientEvents[K]): () => void {
    this.#listeners[event].add(listener)
    return () => { this.#listeners[event].delete(listener) }
  }

  connect (): void {
    if (this.#state !== 'idle' && this.#state !== 'closed') return
    this.#attempt = 0
    this.#setState('connecting')
    void this.#open(this.#generation)
  }

  /** Closes the socket for good; sends not yet acknowledged are rejected. */
  close (): void {
    this.#generation++
    clearTimeout(this.#timer)
    const socket = this.#socket
    this.#socket = undefined
    socket?.close(1000, 'client closed')
    const closed = new Error('the chat client was closed before the service acknowledged the message')
    for (const pending of this.#pending.values()) pending.reject(closed)
    this.#pending.clear()
    this.#setState('closed')
  }

  /**
   * Sends a message; resolves with it once the service has accepted it, rejects with a
   * ChatError when the service refuses it. While disconnected it waits and is sent on reconnect,
   * and a frame left unacknowledged by a dropped connection is sent again under the same clientId.
   */
  send (content: string): Promise<ChatMessage> {
    if (this.#state === 'closed') return Promise.reject(new Error('the chat client is closed'))
    return new Promise((resolve, reject) => {
      const pending: PendingSend = { clientId: newClientId(), content, resolve, reject }
      this.#pending.set(pending.clientId, pending)
      // Not before the state is open: until then the socket may still be catching up, and every
      // pending send is written once it is.
      if (this.#state === 'open' && this.#socket?.readyState === OPEN) this.#write(this.#socket, pending)
    })
  }

  async #open (generation: number): Promise<void> {
    let token: string
    try {
      token = await this.#options.getToken()
      this.#senderId = senderOf(token)
      // Until a message was delivered there is no id to resume from: start from the newest one.
      if (this.#lastId === undefined) await this.#readNewest(token, generation)
    } catch (error) {
      if (generation === this.#generation) this.#failed(error as Error)
      return
    }
    if (generation !== this.#generation) return

    let socket: Socket
    try {
      socket = new this.#WebSocket(this.#socketUrl(), ['access_token', token]) as Socket
    } catch (error) {
      this.#emit('error', error as Error)
      this.close()
      return
    }
    let opened = false
    this.#socket = socket
    this.#held = undefined
    socket.onopen = async () => {
      opened = true
      // Still no message to resume from: whatever the channel got before this socket went live
      // is read now, and delivered before what the socket receives meanwhile.
      if (this.#lastId === undefined && !await this.#readNewestBeforeLive(socket, token, generation)) return
      this.#attempt = 0
      this.#setState('open')
      for (const pending of this.#pending.values()) this.#write(socket, pending)
    }
    socket.onmessage = (event) => {
      if (this.#socket !== socket) return
      if (this.#held !== undefined) this.#held.push(event.data)
      else this.#receive(event.data)
    }
    socket.onerror = () => {} // a close event follows
    socket.onclose = (event) => {
      if (this.#socket !== socket) return
      this.#socket = undefined
      void this.#closed(event.code, opened, token, generation)
    }
  }

  async #closed (code: number, opened: boolean, token: string, generation: number): Promise<void> {
    if (!opened) {
      // Browsers hide why an upgrade failed; the same URL as a plain GET tells (426 means it would upgrade).
      const refusal = await this.#refusal(token)
      if (generation !== this.#generation) return
      if (refusal !== undefined) {
        this.#failed(refusal)
        return
      }
    }
    this.#retry(code === TOKEN_EXPIRED ? 0 : undefined)
  }

  /** Tries again later, unless the service's answer will not change by itself. */
  #failed (error: Error): void {
    this.#emit('error', error)
    if (isPermanent(error)) this.close()
    else this.#retry()
  }

  #retry (delayMs?: number): void {
    const { min = 500, max = 10_000 } = this.#options.reconnectDelayMs ?? {}
    const delay = delayMs ?? reconnectDelay(this.#attempt++, min, max)
    const generation = this.#generation
    this.#setState('reconnecting')
    this.#timer = setTimeout(() => { void this.#open(generation) }, delay)
  }

  /**
   * Reads the channel's newest messages and delivers `history` of them, or, when the channel was
   * empty at the first connect, all of them (up to a page): each is new to the application. The
   * newest becomes the id to resume from.
   */
  async #readNewest (token: string, generation: number): Promise<void> {
    const history = this.#options.history ?? 0
    const limit = this.#startedEmpty ? HISTORY_PAGE : Math.max(1, history)
    const newestFirst = await this.#get(`/api/messages/${encodeURIComponent(this.#options.channel)}?limit=${limit}`, token)
    if (!Array.isArray(newestFirst) || !newestFirst.every(isMessage)) throw new Error('unexpected history reply')
    if (generation !== this.#generation) return
    const shown = this.#startedEmpty ? newestFirst : newestFirst.slice(0, history)
    for (const message of [...shown].reverse()) this.#deliver(message)
    this.#lastId ??= newestFirst[0]?.id
    if (this.#lastId === undefined) this.#startedEmpty = true
  }

  /** Holds the socket's frames during the read; says whether the socket is still the one to use. */
  async #readNewestBeforeLive (socket: Socket, token: string, generation: number): Promise<boolean> {
    this.#held = []
    try {
      await this.#readNewest(token, generation)
    } catch (error) {
      if (this.#socket !== socket) return false
      this.#emit('error', error as Error)
      socket.close(1000, 'could not read the newest messages')
      return false
    }
    const held = this.#held
    this.#held = undefined
    if (this.#socket !== socket) return false
    for (const data of held) this.#receive(data)
    return true
  }

  async #refusal (token: string): Promise<ChatError | undefined> {
    try {
      await this.#get(`/ws?channel=${encodeURIComponent(this.#options.channel)}`, token)
    } catch (error) {
      if (error instanceof ChatError && error.statusCode !== 426 && error.statusCode < 500) return error
    }
    return undefined
  }

  async #get (path: string, token: string): Promise<unknown> {
    const response = await fetch(this.#restBase + path, { headers: { authorization: `Bearer ${token}` } })
    const body: unknown = await response.json().catch(() => undefined)
    if (response.ok) return body
    throw isErrorBody(body) ? new ChatError(body) : new Error(`${path} answered ${response.status}`)
  }

  #socketUrl (): string {
    const since = this.#lastId === undefined ? '' : `&since=${this.#lastId}`
    return `${this.#restBase.replace(/^http/, 'ws')}/ws?channel=${encodeURIComponent(this.#options.channel)}${since}`
  }

  #write (socket: Socket, pending: PendingSend): void {
    socket.send(JSON.stringify({ content: pending.content, clientId: pending.clientId }))
    pending.socket = socket
  }

  #receive (data: unknown): void {
    const frame = readFrame(data)
    switch (frame.kind) {
      case 'message':
        if (this.#deliver(frame.message)) this.#settle(this.#pendingFor(frame.message), frame.message)
        break
      case 'ack': {
        this.#serviceAcks = true
        const pending = this.#pending.get(frame.clientId)
        if (pending === undefined) break
        pending.ackedAs = frame.id
        // The echo may have come first; otherwise it settles the send when it arrives.
        const message = this.#delivered.get(frame.id)
        if (message !== undefined) this.#settle(pending, message)
        break
      }
      case 'error':
        this.#refused(frame.error)
        break
    }
  }

  /** Delivers a message unless it was delivered already; says whether it was new. */
  #deliver (message: ChatMessage): boolean {
    if (this.#delivered.has(message.id)) return false
    this.#delivered.add(message)
    this.#lastId = message.id
    this.#emit('message', message)
    return true
  }

  #pendingFor (message: ChatMessage): PendingSend | undefined {
    if (message.clientId !== undefined) return this.#pending.get(message.clientId)
    const pending = [...this.#pending.values()]
    const acknowledged = pending.find((candidate) => candidate.ackedAs === message.id)
    if (acknowledged !== undefined || this.#serviceAcks) return acknowledged
    // A service without acks: a send settles on its own echo, the oldest matching one first.
    return pending.find((candidate) => candidate.socket !== undefined && candidate.content === message.content && message.sender === this.#senderId)
  }

  #settle (pending: PendingSend | undefined, message: ChatMessage): void {
    if (pending === undefined) return
    this.#pending.delete(pending.clientId)
    pending.resolve(message)
  }

  #refused (body: ErrorBody): void {
    const error = new ChatError(body)
    if (body.clientId !== undefined) {
      // No longer pending: a refusal of a copy of a frame that was settled already.
      this.#pending.get(body.clientId)?.reject(error)
      this.#pending.delete(body.clientId)
      return
    }
    // Without clientIds, refusals come back in the order the frames were written on this socket.
    const pending = !this.#serviceAcks && FRAME_REFUSALS.includes(body.code)
      ? [...this.#pending.values()].find((candidate) => candidate.socket !== undefined && candidate.socket === this.#socket)
      : undefined
    if (pending === undefined) {
      this.#emit('error', error)
      return
    }
    this.#pending.delete(pending.clientId)
    pending.reject(error)
  }

  #setState (state: ConnectionState): void {
    if (this.#state === state) return
    this.#state = state
    this.#emit('state', state)
  }

  #emit<K extends keyof ChatClientEvents> (event: K, value: Parameters<ChatClientEvents[K]>[0]): void {
    for (const listener of this.#listeners[event]) {
      try {
        (listener as (value: unknown) => void)(value)
      } catch (error) {
        // A listener's bug is reported, but does not stop the other listeners or the client.
        setTimeout(() => { throw error })
      }
    }
  }
}

/** A refusal that asking again will not change: a bad channel, no access, a refused origin, a wrong URL. */
function isPermanent (error: Error): boolean {
  return error instanceof ChatError && error.statusCode >= 400 && error.statusCode < 500 &&
    ![401, 408, 426, 429].includes(error.statusCode)
}

/** 32 hex characters: fits the service's clientId rule, and needs no secure context (unlike randomUUID). */
function newClientId (): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, '0')).join('')
}

/** The `id` claim of a JWT, read without verifying it: the service sets it as the sender of what we send. */
function senderOf (token: string): string | undefined {
  try {
    const payload = token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/')
    const bytes = Uint8Array.from(atob(payload), (character) => character.charCodeAt(0))
    const { id } = JSON.parse(new TextDecoder().decode(bytes)) as { id?: unknown }
    return typeof id === 'string' ? id : undefined
  } catch {
    return undefined
  }
}
