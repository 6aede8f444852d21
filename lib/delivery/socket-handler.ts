import type { WebSocket } from 'ws'
import type { Claims } from '../auth/access.js'
import type { MemoryBudget } from '../limits/memory-budget.js'
import type { Admission, MessageIntake, Sent } from '../messages/message-intake.js'
import type { ChatMetrics } from '../operations/metrics.js'
import { toErrorBody } from '../protocol/error-body.js'
import { CatchUpBusy, CatchUpGap, Forbidden, InvalidFrame, TooManyChannels, UnknownSince } from '../protocol/errors.js'
import {
  ackFrame, errorFrame, PONG_FRAME, readClientFrame, subscribedFrame, unsubscribedFrame, type ClientFrame, type FrameError
} from '../protocol/frames.js'
import { CLOSE, CLOSE_REASON } from '../protocol/wire.js'
import type { MessageReader } from '../storage/message-reader.js'
import { within } from '../util/within.js'
import type { Fanout } from './broker.js'
import { catchUp } from './catch-up.js'
import { Connection } from './connection.js'
import type { Heartbeat } from './heartbeat.js'
import type { Client, Hub } from './hub.js'
import { Subscription } from './subscription.js'

/** Missed messages are read and sent this many at a time. */
export const CATCH_UP_PAGE_SIZE = 200
/** How long a subscription waits for its channel to be live on this instance before it starts anyway (Redis slow to answer). */
export const LIVE_BEFORE_OPEN_WAIT_MS = 2_000

/** What serving a WebSocket needs from the rest of the service. */
export interface SocketServices {
  hub: Hub
  heartbeat: Heartbeat<Connection> | undefined
  broker: Pick<Fanout, 'live' | 'hold' | 'frontier'>
  intake: Pick<MessageIntake, 'admit' | 'admitNow' | 'commit'>
  reader: MessageReader
  authorize: (claims: Claims, channel: string) => boolean | Promise<boolean>
  metrics: ChatMetrics
  tokenExpiry: { watch (client: Client, exp: number | undefined): void, unwatch (client: Client, exp: number | undefined): void }
  connections: { opened (user: string): void, closed (user: string): void }
  catchUpMemory: { budget: MemoryBudget, pageBytes: number, waitMs: number }
  settleMs: number
  /** Marks the user present in the channel (the listener gets its presence frames); the function it returns ends that. */
  presence: { enter (channel: string, user: string, listener?: Subscription): () => void }
  /** Relays a typing notice (throttled), or rejects with Forbidden. */
  typing: { typed (claims: Claims, channel: string): Promise<void> }
  /** Moves the user's read marker (a receipt follows), or rejects (Forbidden, MessageNotFound). */
  readState: { markRead (claims: Claims, channel: string, id: string): Promise<void> }
  /** MAX_CHANNELS_PER_CONNECTION; 0 is no cap. */
  maxChannels: number
  log: { debug (object: object, message: string): void, error (object: object, message: string): void }
}

/** How the socket was opened: `?channel=X[&since=ID]` starts it subscribed to X (already checked and live). */
export interface Opening {
  claims: Claims
  channel?: string
  since?: string
  /** With channel: the socket gets that channel's presence frames. */
  presence?: boolean
}

/**
 * Serves one client's WebSocket: its subscriptions (subscribe, unsubscribe, each channel with its
 * own catch-up), the messages it sends to any channel it may write to (in the order it sent them,
 * each acked), pings, and the socket's end (counts, heartbeat, token expiry).
 */
export function serveSocket (services: SocketServices, socket: WebSocket, opening: Opening): void {
  // @fastify/websocket's own error listener holds the request and reply (with the raw HTTP
  // request and response) for the socket's lifetime, about 2.5 KiB per idle connection.
  // This one holds nothing: an error on an open socket only needs logging, and ws closes it.
  socket.removeAllListeners('error')
  socket.on('error', (error) => services.log.debug({ err: error }, 'websocket error'))
  const client = new SocketClient(services, socket, opening)
  socket.on('message', (data: Buffer, isBinary: boolean) => client.receive(data, isBinary))
  socket.on('close', () => client.closed())
}

/** A channel this socket is subscribed to. */
interface SocketSubscription {
  subscription: Subscription
  live: Promise<void>
  isLive: boolean
  leavePresence: () => void
}

class SocketClient {
  readonly #services: SocketServices
  readonly #connection: Connection
  readonly #claims: Claims
  readonly #defaultChannel: string | undefined
  readonly #subscriptions = new Map<string, SocketSubscription>()
  /** Subscribe and unsubscribe frames of one channel run one after the other. */
  readonly #channelSteps = new Map<string, Promise<void>>()
  /** Whether this socket may send to a channel, as the authorize rule answered (once per channel). */
  readonly #mayWrite = new Map<string, Promise<boolean>>()
  readonly #allowed = new Map<string, boolean>()
  /** Message frames wait for earlier ones (their clientId lookup, their channel's liveness), so a socket's messages keep their order. */
  #previous: Promise<unknown> = Promise.resolve()
  #chained = 0
  #open = true

  constructor (services: SocketServices, socket: WebSocket, opening: Opening) {
    this.#services = services
    this.#claims = opening.claims
    this.#defaultChannel = opening.channel
    const connection = this.#connection = new Connection(socket, opening.claims.id)
    services.hub.opened(connection)
    services.heartbeat?.add(connection)
    services.tokenExpiry.watch(connection, opening.claims.exp)
    services.connections.opened(connection.user)
    if (opening.channel !== undefined) {
      this.#mayWrite.set(opening.channel, Promise.resolve(true))
      this.#allowed.set(opening.channel, true)
      const live = services.broker.live(opening.channel)
      this.#subscribe(opening.channel, { since: opening.since, presence: opening.presence === true }, live)
    }
  }

  receive (data: Buffer, isBinary: boolean): void {
    let frame: ClientFrame
    try {
      frame = readClientFrame(data, isBinary)
    } catch (error) {
      const { clientId, channel, code } = error as FrameError & { code?: string }
      if (code === 'CHAT_INVALID_MESSAGE' || code === 'CHAT_BODY_TOO_LARGE') this.#services.metrics.refusedWith(error)
      this.#sendError(error, { clientId, channel })
      return
    }
    switch (frame.kind) {
      case 'message': return this.#message(frame.channel ?? this.#defaultChannel, frame.content, frame.clientId)
      case 'subscribe': return this.#inTurn(frame.channel, () => this.#subscribeFrame(frame.channel, frame))
      case 'unsubscribe': return this.#inTurn(frame.channel, async () => this.#unsubscribeFrame(frame.channel))
      case 'typing': return this.#typing(frame.channel)
      case 'read': return this.#read(frame.channel, frame.id)
      case 'ping': return this.#connection.send(PONG_FRAME)
    }
  }

  closed (): void {
    this.#open = false
    const { hub, heartbeat, tokenExpiry, connections } = this.#services
    for (const [channel, { subscription, leavePresence }] of this.#subscriptions) {
      subscription.end()
      hub.leave(channel, subscription)
      leavePresence()
    }
    this.#subscriptions.clear()
    hub.closed(this.#connection)
    heartbeat?.remove(this.#connection)
    tokenExpiry.unwatch(this.#connection, this.#claims.exp)
    connections.closed(this.#connection.user)
  }

  #inTurn (channel: string, step: () => Promise<void>): void {
    const previous = this.#channelSteps.get(channel) ?? Promise.resolve()
    const next = previous.then(step).catch((error: unknown) => this.#sendError(error, { channel }))
    this.#channelSteps.set(channel, next)
    next.finally(() => {
      if (this.#channelSteps.get(channel) === next) this.#channelSteps.delete(channel)
    }).catch(() => {})
  }

  async #subscribeFrame (channel: string, options: { since: string | undefined, presence: boolean }): Promise<void> {
    if (!this.#open) return
    if (this.#subscriptions.has(channel)) {
      this.#connection.send(subscribedFrame(channel))
      return
    }
    const { maxChannels, authorize, broker } = this.#services
    if (maxChannels > 0 && this.#subscriptions.size >= maxChannels) throw new TooManyChannels(maxChannels)
    if (!await authorize(this.#claims, channel)) throw new Forbidden(channel)
    // With Redis, this instance receives a channel only once it has subscribed to it: the
    // subscription starts once the channel is live here (briefly waited for), so nothing sent
    // after `subscribed` is missed.
    const hold = broker.hold(channel)
    try {
      await within(hold.live, LIVE_BEFORE_OPEN_WAIT_MS, undefined)
      if (!this.#open) return
      this.#connection.send(subscribedFrame(channel))
      this.#subscribe(channel, options, hold.live)
    } finally {
      hold.release()
    }
  }

  #unsubscribeFrame (channel: string): void {
    const entry = this.#subscriptions.get(channel)
    if (entry !== undefined) {
      this.#subscriptions.delete(channel)
      entry.subscription.end()
      this.#services.hub.leave(channel, entry.subscription)
      entry.leavePresence()
    }
    this.#connection.send(unsubscribedFrame(channel))
  }

  #subscribe (channel: string, options: { since: string | undefined, presence: boolean }, live: Promise<void>): void {
    const { since } = options
    const subscription = new Subscription(this.#connection, channel, { holdLive: since !== undefined })
    const { hub, presence } = this.#services
    hub.join(channel, subscription)
    const leavePresence = presence.enter(channel, this.#connection.user, options.presence ? subscription : undefined)
    const entry = { subscription, live, isLive: false, leavePresence }
    live.then(() => { entry.isLive = true }, () => {})
    this.#subscriptions.set(channel, entry)
    if (since !== undefined) this.#catchUp(subscription, since, live)
  }

  /** A read marker moved over the socket: nothing answers a success (the receipt is the echo). */
  #read (channel: string, id: string): void {
    this.#services.readState.markRead(this.#claims, channel, id).catch((error: unknown) => this.#sendError(error, { channel }))
  }

  /** Typing is never stored nor counted as a message: its only refusal is no access. */
  #typing (channel: string): void {
    this.#services.typing.typed(this.#claims, channel).catch((error: unknown) => this.#sendError(error, { channel }))
  }

  #catchUp (subscription: Subscription, since: string, live: Promise<void>): void {
    const { broker, reader, catchUpMemory, settleMs, log } = this.#services
    const channel = subscription.channel
    live.then(() => broker.frontier(channel)).then((frontier) => catchUp({
      channel,
      since,
      subscriber: subscription,
      reader,
      frontier,
      pageSize: CATCH_UP_PAGE_SIZE,
      settleMs,
      memory: catchUpMemory,
      onUnknownSince: () => this.#sendError(new UnknownSince(since, channel), this.#about(channel)),
      onGap: ({ from, to }) => this.#sendError(new CatchUpGap(from, to), this.#about(channel)),
      onBusy: () => this.#sendError(new CatchUpBusy(), this.#about(channel))
    })).catch((error: unknown) => {
      log.error({ err: error }, 'catching up a reconnecting client failed')
      this.#connection.close(CLOSE.internalError, CLOSE_REASON.internalError).catch(() => {})
    })
  }

  /**
   * A socket opened with ?channel=X keeps today's frames exactly: refusals about X do not name
   * it. Frames about any other channel say which.
   */
  #about (channel: string | undefined, clientId?: string): { clientId?: string, channel?: string } {
    return { clientId, channel: channel === this.#defaultChannel ? undefined : channel }
  }

  #message (channel: string | undefined, content: string, clientId: string | undefined): void {
    if (channel === undefined) {
      this.#refuse(new InvalidFrame('channel is required: this socket was opened without ?channel='), clientId, undefined)
      return
    }
    const request = { channel, sender: this.#connection.user, content, clientId }
    const subscribed = this.#subscriptions.get(channel)
    const step = this.#channelSteps.get(channel)
    if (this.#chained === 0 && step === undefined && this.#allowed.get(channel) === true &&
      (subscribed === undefined || subscribed.isLive)) {
      this.#admitNow(request, clientId)
      return
    }
    // The sender's own echo must not be missed: after a subscribe sent before it, once the channel is live here.
    this.#chain(channel, this.#mayWriteTo(channel).then(async (allowed) => {
      if (!allowed) throw new Forbidden(channel)
      await step
      await this.#subscriptions.get(channel)?.live
      return await this.#services.intake.admit(request)
    }), clientId)
  }

  #mayWriteTo (channel: string): Promise<boolean> {
    let mayWrite = this.#mayWrite.get(channel)
    if (mayWrite === undefined) {
      mayWrite = Promise.resolve(this.#services.authorize(this.#claims, channel))
      mayWrite.then((allowed) => this.#allowed.set(channel, allowed), () => this.#mayWrite.delete(channel))
      this.#mayWrite.set(channel, mayWrite)
    }
    return mayWrite
  }

  /** Most frames: nothing earlier waits, so the message is admitted and committed in this turn. */
  #admitNow (
    request: { channel: string, sender: string, content: string, clientId: string | undefined },
    clientId: string | undefined
  ): void {
    let admitted: Admission | Promise<Admission>
    try {
      admitted = this.#services.intake.admitNow(request)
    } catch (error) {
      this.#refuse(error, clientId, request.channel)
      return
    }
    if (admitted instanceof Promise) this.#chain(request.channel, admitted, clientId)
    else this.#commit(admitted, clientId, request.channel)
  }

  #chain (channel: string, admitted: Promise<Admission>, clientId: string | undefined): void {
    // Refused at once (rate, shutdown) while earlier frames are still in the chain: answered in turn below.
    admitted.catch(() => {})
    this.#chained++
    this.#previous = this.#previous.then(() => admitted).then(
      (admission) => {
        this.#chained--
        this.#commit(admission, clientId, channel)
      },
      (error: unknown) => {
        this.#chained--
        this.#refuse(error, clientId, channel)
      }
    )
  }

  #commit (admission: Admission, clientId: string | undefined, channel: string): void {
    this.#services.intake.commit(admission).then(
      (sent) => this.#acknowledge(sent, clientId, channel),
      (error: unknown) => this.#refuse(error, clientId, channel)
    )
  }

  #acknowledge (sent: Sent, clientId: string | undefined, channel: string): void {
    if (!sent.duplicate) this.#services.metrics.accepted('ws')
    if (clientId === undefined) return
    if (sent.stored === undefined) {
      this.#connection.send(ackFrame(clientId, sent.message.id))
    } else {
      sent.stored.then(
        (stored) => this.#connection.send(ackFrame(clientId, stored.id)),
        (error: unknown) => this.#sendError(error, this.#about(channel, clientId))
      )
    }
  }

  #refuse (error: unknown, clientId: string | undefined, channel: string | undefined): void {
    this.#services.metrics.refusedWith(error)
    this.#sendError(error, this.#about(channel, clientId))
  }

  #sendError (error: unknown, about: { clientId?: string, channel?: string }): void {
    this.#connection.send(errorFrame(toErrorBody(error as Error), about))
  }
}
