import { CLOSE } from '../lib/protocol/wire.js'
import { reconnectDelay } from './backoff.js'
import { ChannelFeed } from './channel-feed.js'
import { ChatError, isErrorBody, isMessage, readFrame, type ChatMessage, type Deletion, type ErrorBody, type Frame, type ReadReceipt } from './frames.js'
import { Liveness, type LivenessOptions } from './liveness.js'

/** The refusals of a frame; other error frames (about a catch-up) concern no send. */
const FRAME_REFUSALS = ['CHAT_INVALID_MESSAGE', 'CHAT_UNAVAILABLE']
/** Refusals of a subscribe frame: the channel is dropped (asking again will not change them). */
const SUBSCRIBE_REFUSALS = ['CHAT_FORBIDDEN', 'CHAT_INVALID_CHANNEL', 'CHAT_TOO_MANY_CHANNELS', 'CHAT_INVALID_FRAME']
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
  /**
   * One channel, the socket opens on it (`/ws?channel=`); `send(content)` goes to it. More can be
   * added with `subscribe`.
   */
  channel?: string
  /** Channels to subscribe to over one socket (more with `subscribe`, fewer with `unsubscribe`). */
  channels?: string[]
  /** Asked on every (re)connect, so a reconnect after the token expired uses a fresh one. */
  getToken: () => string | Promise<string>
  /** How many recent messages to deliver (from the history endpoint) before live ones. Default 0. */
  history?: number
  /** With `channel`: resume after this message id instead of from the newest message at the first connect. */
  since?: string
  /** Defaults to the global `WebSocket` (browsers, Node 22+). */
  WebSocket?: WebSocketImplementation
  /** Backoff between reconnects. Defaults: 500 ms doubling up to 10 s, with jitter. */
  reconnectDelayMs?: { min?: number, max?: number }
  /** How many delivered messages are remembered per channel to drop repeats. Default 1000. */
  rememberMessages?: number
  /** When to suspect a dead link (see Liveness); false: only the browser's or the OS's own detection. */
  liveness?: LivenessOptions | false
  /** Ask for every channel's presence frames (who is online; `presence(channel)`). Default false. */
  presence?: boolean
  /** The service's TYPING_INTERVAL_MS: `typing()` sends at most one notice per channel this often. Default 2000. */
  typingIntervalMs?: number
}

export interface ChatClientEvents {
  /** Every message of the subscribed channels, once each, in each channel's order. */
  message: (message: ChatMessage) => void
  /** The service confirmed a subscription (after every reconnect too). */
  subscribed: (channel: string) => void
  /** Who is present in a channel changed (channels with presence only). */
  presence: (change: { channel: string, users: string[] }) => void
  /** Who is typing in a channel changed: a notice came, a typer's message arrived, or a notice grew old. */
  typing: (change: { channel: string, users: string[] }) => void
  /** A message was edited or deleted: the message as it is now (a tombstone has `deletedAt` and content ""). Once per change. */
  changed: (message: ChatMessage) => void
  /** A user's read marker moved in a subscribed channel (the user's own included, from their other devices). */
  read: (receipt: ReadReceipt) => void
  state: (state: ConnectionState) => void
  /** Refusals that concern no single send (those reject its promise), and connection failures. */
  error: (error: Error) => void
}

interface PendingSend {
  clientId: string
  channel: string
  content: string
  resolve: (message: ChatMessage) => void
  reject: (error: Error) => void
  /** The socket the frame was last written to. */
  socket?: Socket
  /** The message id the service acknowledged it with. */
  ackedAs?: string
}

/**
 * Chat channels over one WebSocket that survives reconnects: it reconnects with backoff, resumes
 * each channel after the last message it delivered (one round of subscribe frames), drops
 * messages it already delivered, sends each message until the service acknowledges it, and
 * notices a dead link.
 */
export class ChatClient {
  readonly #options: ChatClientOptions
  readonly #WebSocket: WebSocketImplementation
  readonly #restBase: string
  readonly #listeners: { [K in keyof ChatClientEvents]: Set<ChatClientEvents[K]> } = {
    message: new Set(),
    subscribed: new Set(),
    presence: new Set(),
    typing: new Set(),
    changed: new Set(),
    read: new Set(),
    state: new Set(),
    error: new Set()
  }

  readonly #feeds = new Map<string, ChannelFeed>()
  readonly #pending = new Map<string, PendingSend>()
  readonly #liveness: Liveness | undefined
  /** The channel the socket opens on (`/ws?channel=`), for the one-channel form. */
  #socketChannel: string | undefined
  #state: ConnectionState = 'idle'
  #socket: Socket | undefined
  #attempt = 0
  #timer: ReturnType<typeof setTimeout> | undefined
  /** Bumped by close(): a connect still under way when it ran gives up. */
  #generation = 0
  /** The service acknowledges frames (reliable sends); until it is seen, a send settles on its echo. */
  #serviceAcks = false
  #senderId: string | undefined
  #token = ''
  /** When this client last sent a typing notice, per channel. */
  readonly #typingSentAt = new Map<string, number>()

  constructor (options: ChatClientOptions) {
    const WebSocketClass = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketImplementation }).WebSocket
    if (WebSocketClass === undefined) throw new TypeError('no global WebSocket here (Node < 22): pass one, e.g. WebSocket from the ws package')
    this.#options = options
    this.#WebSocket = WebSocketClass
    this.#restBase = String(options.url).replace(/\/+$/, '').replace(/^ws/, 'http')
    this.#liveness = options.liveness === false ? undefined : new Liveness(options.liveness)
    if (options.channel !== undefined) {
      this.#socketChannel = options.channel
      this.#addFeed(options.channel, { since: options.since })
    }
    for (const channel of options.channels ?? []) this.#addFeed(channel)
  }

  get state (): ConnectionState {
    return this.#state
  }

  /** The `id` claim of the token last used: the sender of what this client sends. */
  get user (): string | undefined {
    return this.#senderId
  }

  /** The channels subscribed to (or to be, once connected). */
  get channels (): string[] {
    return [...this.#feeds.keys()]
  }

  /** With one channel: the id of the last message delivered, where the next reconnect resumes. */
  get lastId (): string | undefined {
    return this.#feeds.size === 1 ? [...this.#feeds.values()][0]!.lastId : undefined
  }

  /** The id of the last message of the channel delivered: where the next reconnect resumes it. */
  lastIdOf (channel: string): string | undefined {
    return this.#feeds.get(channel)?.lastId
  }

  /** Who is present in the channel, sorted (with presence on for it). */
  presence (channel: string): string[] {
    return [...this.#feeds.get(channel)?.present ?? []].sort()
  }

  /** Who is typing in the channel now, sorted: a notice within about three intervals, and no message since. */
  typers (channel: string): string[] {
    return this.#feeds.get(channel)?.typingAt(Date.now()) ?? []
  }

  /**
   * Tells the channel's other users that this one is typing: call it on every keystroke; at most
   * one notice per `typingIntervalMs` goes out. Nothing is sent while disconnected.
   */
  typing (channel: string): void {
    const now = Date.now()
    if (now - (this.#typingSentAt.get(channel) ?? -Infinity) < this.#typingIntervalMs) return
    if (this.#state !== 'open' || this.#socket?.readyState !== OPEN) return
    this.#typingSentAt.set(channel, now)
    this.#socket.send(JSON.stringify({ typing: { channel } }))
  }

  get #typingIntervalMs (): number {
    return this.#options.typingIntervalMs ?? 2_000
  }

  /**
   * Moves the user's read marker in the channel to `id` (default: the last message delivered), over
   * the socket when it is open, else over REST. A marker only moves forward.
   */
  async markRead (channel: string, id = this.lastIdOf(channel)): Promise<void> {
    if (id === undefined) return
    if (this.#state === 'open' && this.#socket?.readyState === OPEN) {
      this.#socket.send(JSON.stringify({ read: { channel, id } }))
      return
    }
    await this.#request('PUT', `/api/channels/${encodeURIComponent(channel)}/read`, { id })
  }

  /** Unread counts for the token's own channel and each of its groups (exact up to 1000). */
  async unread (): Promise<Record<string, number>> {
    return await this.#request('GET', '/api/unread') as Record<string, number>
  }

  /** Every user's read marker in the channel ("seen by"): user id to message id. */
  async readMarkers (channel: string): Promise<Record<string, string>> {
    return await this.#request('GET', `/api/channels/${encodeURIComponent(channel)}/read`) as Record<string, string>
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

  /** Subscribes to a channel (now if connected, else at the next connect), after `since` when given. */
  subscribe (channel: string, options: { since?: string, presence?: boolean } = {}): void {
    if (this.#feeds.has(channel)) return
    const feed = this.#addFeed(channel, options)
    if (this.#socket?.readyState === OPEN) this.#sendSubscribe(this.#socket, feed)
  }

  /** Stops a channel: none of its messages is delivered after this. */
  unsubscribe (channel: string): void {
    if (!this.#feeds.delete(channel)) return
    if (this.#socketChannel === channel) this.#socketChannel = undefined
    if (this.#socket?.readyState === OPEN) this.#socket.send(JSON.stringify({ unsubscribe: { channel } }))
  }

  /** Closes the socket for good; sends not yet acknowledged are rejected. */
  close (): void {
    this.#generation++
    clearTimeout(this.#timer)
    this.#liveness?.stop()
    const socket = this.#socket
    this.#socket = undefined
    socket?.close(1000, 'client closed')
    const closed = new Error('the chat client was closed before the service acknowledged the message')
    for (const pending of this.#pending.values()) pending.reject(closed)
    this.#pending.clear()
    this.#setState('closed')
  }

  /**
   * Sends a message to a channel the token may write to (`send(content)`: to the one channel);
   * resolves with it once the service has accepted it, rejects with a ChatError when the service
   * refuses it. While disconnected it waits and is sent on reconnect, and a frame left
   * unacknowledged by a dropped connection is sent again under the same clientId.
   */
  send (content: string): Promise<ChatMessage>
  send (channel: string, content: string): Promise<ChatMessage>
  send (channelOrContent: string, content?: string): Promise<ChatMessage> {
    if (this.#state === 'closed') return Promise.reject(new Error('the chat client is closed'))
    const channel = content === undefined ? this.#onlyChannel() : channelOrContent
    if (channel === undefined) return Promise.reject(new TypeError('send(content) needs exactly one channel: use send(channel, content)'))
    return new Promise((resolve, reject) => {
      const pending: PendingSend = { clientId: newClientId(), channel, content: content ?? channelOrContent, resolve, reject }
      this.#pending.set(pending.clientId, pending)
      // Not before the state is open: until then the socket may still be catching up, and every
      // pending send is written once it is.
      if (this.#state === 'open' && this.#socket?.readyState === OPEN) this.#write(this.#socket, pending)
    })
  }

  #onlyChannel (): string | undefined {
    return this.#socketChannel ?? (this.#feeds.size === 1 ? [...this.#feeds.keys()][0] : undefined)
  }

  #addFeed (channel: string, options: { since?: string, presence?: boolean } = {}): ChannelFeed {
    const feed = new ChannelFeed(channel, this.#options.rememberMessages ?? 1000, { presence: this.#options.presence, ...options })
    this.#feeds.set(channel, feed)
    return feed
  }

  async #open (generation: number): Promise<void> {
    let token: string
    try {
      token = await this.#options.getToken()
    } catch (error) {
      if (generation === this.#generation) this.#failed(error as Error)
      return
    }
    if (generation !== this.#generation) return
    this.#token = token
    this.#senderId = senderOf(token)

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
    for (const feed of this.#feeds.values()) {
      feed.live = false
      feed.held = undefined
      feed.present.clear()
      feed.typers.clear()
    }
    socket.onopen = () => {
      opened = true
      this.#attempt = 0
      this.#liveness?.watch(() => socket.send('{"ping":{}}'), () => this.#abandon(socket))
      for (const feed of this.#feeds.values()) {
        if (feed.channel === this.#socketChannel) void this.#wentLive(socket, feed)
        else this.#sendSubscribe(socket, feed)
      }
      this.#openWhenLive(socket)
    }
    socket.onmessage = (event) => {
      if (this.#socket !== socket) return
      this.#liveness?.heard()
      this.#receive(socket, event.data)
    }
    socket.onerror = () => {} // a close event follows
    socket.onclose = (event) => {
      if (this.#socket !== socket) return
      this.#socket = undefined
      this.#liveness?.stop()
      void this.#closed(event.code, opened, token, generation)
    }
  }

  /**
   * Gives up a silent socket at once: on a dead link its closing handshake would wait for an
   * answer that never comes (30 s in the ws package, longer in browsers).
   */
  #abandon (socket: Socket): void {
    if (this.#socket !== socket) return
    this.#socket = undefined
    socket.close(4000, 'no answer to ping')
    ;(socket as { terminate?: () => void }).terminate?.()
    this.#retry()
  }

  #sendSubscribe (socket: Socket, feed: ChannelFeed): void {
    const { channel, lastId: since, withPresence } = feed
    const subscribe = { channel, ...(since === undefined ? {} : { since }), ...(withPresence ? { presence: true } : {}) }
    socket.send(JSON.stringify({ subscribe }))
  }

  /** The state is open once every channel is live on the socket: then the waiting sends go. */
  #openWhenLive (socket: Socket): void {
    if (this.#socket !== socket || this.#state === 'open') return
    for (const feed of this.#feeds.values()) if (!feed.live) return
    this.#setState('open')
    for (const pending of this.#pending.values()) this.#write(socket, pending)
  }

  /**
   * The channel is live on the socket. With no message to resume from, its newest messages are
   * read now and delivered before what the socket receives meanwhile.
   */
  async #wentLive (socket: Socket, feed: ChannelFeed): Promise<void> {
    if (feed.lastId === undefined) {
      feed.held = []
      try {
        await this.#readNewest(feed, this.#token)
      } catch (error) {
        if (this.#socket !== socket) return
        this.#emit('error', error as Error)
        socket.close(1000, 'could not read the newest messages')
        return
      }
      const held = feed.held ?? []
      feed.held = undefined
      if (this.#socket !== socket || this.#feeds.get(feed.channel) !== feed) return
      for (const message of held) this.#deliver(feed, message)
    }
    feed.live = true
    this.#emit('subscribed', feed.channel)
    this.#openWhenLive(socket)
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
    this.#retry(code === CLOSE.tokenExpired ? 0 : undefined)
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
   * empty when first read, all of them (up to a page): each is new to the application. The
   * newest becomes the id to resume from.
   */
  async #readNewest (feed: ChannelFeed, token: string): Promise<void> {
    const history = this.#options.history ?? 0
    const limit = feed.startedEmpty ? HISTORY_PAGE : Math.max(1, history)
    const newestFirst = await this.#get(`/api/messages/${encodeURIComponent(feed.channel)}?limit=${limit}`, token)
    if (!Array.isArray(newestFirst) || !newestFirst.every(isMessage)) throw new Error('unexpected history reply')
    const shown = feed.startedEmpty ? newestFirst : newestFirst.slice(0, history)
    for (const message of [...shown].reverse()) this.#deliver(feed, message)
    feed.lastId ??= newestFirst[0]?.id
    if (feed.lastId === undefined) feed.startedEmpty = true
  }

  async #refusal (token: string): Promise<ChatError | undefined> {
    try {
      await this.#get(this.#socketChannel === undefined ? '/ws' : `/ws?channel=${encodeURIComponent(this.#socketChannel)}`, token)
    } catch (error) {
      if (error instanceof ChatError && error.statusCode !== 426 && error.statusCode < 500) return error
    }
    return undefined
  }

  async #get (path: string, token: string): Promise<unknown> {
    return await this.#send('GET', path, token)
  }

  async #request (method: string, path: string, body?: unknown): Promise<unknown> {
    return await this.#send(method, path, await this.#options.getToken(), body)
  }

  async #send (method: string, path: string, token: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` }
    if (body !== undefined) headers['content-type'] = 'application/json'
    const response = await fetch(this.#restBase + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    const answer: unknown = response.status === 204 ? undefined : await response.json().catch(() => undefined)
    if (response.ok) return answer
    throw isErrorBody(answer) ? new ChatError(answer) : new Error(`${method} ${path} answered ${response.status}`)
  }

  #socketUrl (): string {
    const base = `${this.#restBase.replace(/^http/, 'ws')}/ws`
    const channel = this.#socketChannel
    if (channel === undefined) return base
    const feed = this.#feeds.get(channel)
    const since = feed?.lastId === undefined ? '' : `&since=${feed.lastId}`
    return `${base}?channel=${encodeURIComponent(channel)}${since}${feed?.withPresence === true ? '&presence=true' : ''}`
  }

  #write (socket: Socket, pending: PendingSend): void {
    socket.send(JSON.stringify({ channel: pending.channel, content: pending.content, clientId: pending.clientId }))
    pending.socket = socket
  }

  #receive (socket: Socket, data: unknown): void {
    const frame = readFrame(data)
    switch (frame.kind) {
      case 'message': {
        const feed = this.#feeds.get(frame.message.channel)
        if (feed === undefined) break
        if (feed.held !== undefined) feed.held.push(frame.message)
        else if (this.#deliver(feed, frame.message)) this.#settle(this.#pendingFor(frame.message), frame.message)
        break
      }
      case 'ack': {
        this.#serviceAcks = true
        const pending = this.#pending.get(frame.clientId)
        if (pending === undefined) break
        pending.ackedAs = frame.id
        // The echo may have come first; otherwise it settles the send when it arrives.
        const message = this.#feeds.get(pending.channel)?.delivered.get(frame.id)
        if (message !== undefined) this.#settle(pending, message)
        break
      }
      case 'subscribed': {
        const feed = this.#feeds.get(frame.channel)
        if (feed !== undefined && !feed.live && feed.held === undefined) void this.#wentLive(socket, feed)
        break
      }
      case 'error':
        this.#refused(socket, frame.error)
        break
      case 'presence':
      case 'join':
      case 'leave':
        this.#presenceChanged(frame)
        break
      case 'typing':
        this.#typed(frame.channel, frame.user)
        break
      case 'read':
        if (this.#feeds.has(frame.receipt.channel)) this.#emit('read', frame.receipt)
        break
      case 'edited':
        this.#changed(frame.message)
        break
      case 'deleted':
        this.#deleted(frame.deletion)
        break
    }
  }

  /**
   * An edit replaces the message in place, unless it was deleted (whatever edit comes after a
   * delete is older) or already shows this edit: a change that comes twice (after a reconnect)
   * changes nothing the second time.
   */
  #changed (edited: ChatMessage): void {
    const feed = this.#feeds.get(edited.channel)
    if (feed === undefined) return
    const current = feed.delivered.get(edited.id)
    if (current?.deletedAt !== undefined) return
    if (current !== undefined && current.editedAt === edited.editedAt && current.content === edited.content) return
    const now = { ...current, ...edited }
    feed.delivered.add(now)
    this.#emit('changed', now)
  }

  #deleted ({ channel, id, deletedAt }: Deletion): void {
    const feed = this.#feeds.get(channel)
    if (feed === undefined) return
    const current = feed.delivered.get(id)
    if (current?.deletedAt !== undefined) return
    const now: ChatMessage = { ...(current ?? { id, channel, sender: '', createdAt: '' }), content: '', deletedAt }
    feed.delivered.add(now)
    this.#emit('changed', now)
  }

  #presenceChanged (frame: Extract<Frame, { kind: 'presence' | 'join' | 'leave' }>): void {
    const feed = this.#feeds.get(frame.channel)
    if (feed === undefined) return
    if (frame.kind === 'presence') {
      feed.present.clear()
      for (const user of frame.users) feed.present.add(user)
    } else if (frame.kind === 'join') {
      feed.present.add(frame.user)
    } else {
      feed.present.delete(frame.user)
    }
    this.#emit('presence', { channel: feed.channel, users: this.presence(feed.channel) })
  }

  /** A typer is shown for about three intervals after their notice, or until their message arrives. */
  #typed (channel: string, user: string): void {
    const feed = this.#feeds.get(channel)
    if (feed === undefined) return
    const forMs = 3 * this.#typingIntervalMs
    feed.typers.set(user, Date.now() + forMs)
    this.#emit('typing', { channel, users: this.typers(channel) })
    const timer = setTimeout(() => {
      const until = feed.typers.get(user)
      if (until !== undefined && until <= Date.now()) this.#emit('typing', { channel, users: this.typers(channel) })
    }, forMs + 10)
    ;(timer as { unref?: () => void }).unref?.()
  }

  /** Delivers a message unless it was delivered already; says whether it was new. */
  #deliver (feed: ChannelFeed, message: ChatMessage): boolean {
    if (!feed.take(message)) return false
    this.#emit('message', message)
    if (feed.typers.delete(message.sender)) this.#emit('typing', { channel: feed.channel, users: this.typers(feed.channel) })
    return true
  }

  #pendingFor (message: ChatMessage): PendingSend | undefined {
    if (message.clientId !== undefined) return this.#pending.get(message.clientId)
    const pending = [...this.#pending.values()]
    const acknowledged = pending.find((candidate) => candidate.ackedAs === message.id)
    if (acknowledged !== undefined || this.#serviceAcks) return acknowledged
    // A service without acks: a send settles on its own echo, the oldest matching one first.
    return pending.find((candidate) => candidate.socket !== undefined && candidate.channel === message.channel &&
      candidate.content === message.content && message.sender === this.#senderId)
  }

  #settle (pending: PendingSend | undefined, message: ChatMessage): void {
    if (pending === undefined) return
    this.#pending.delete(pending.clientId)
    pending.resolve(message)
  }

  #refused (socket: Socket, body: ErrorBody): void {
    const error = new ChatError(body)
    if (body.clientId !== undefined) {
      // No longer pending: a refusal of a copy of a frame that was settled already.
      this.#pending.get(body.clientId)?.reject(error)
      this.#pending.delete(body.clientId)
      return
    }
    if (body.channel !== undefined && SUBSCRIBE_REFUSALS.includes(body.code)) {
      // The subscription was refused: the channel is dropped, the others go on.
      this.#feeds.delete(body.channel)
      this.#emit('error', error)
      this.#openWhenLive(socket)
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
