import { ObjectId } from 'mongodb'
import { createDraft, fromDocument, toDocument, type ChatMessage } from './message.js'
import { clientKey } from '../storage/message-store.js'
import type { Fanout } from '../delivery/broker.js'
import type { MessageWriter } from '../storage/message-writer.js'
import { RateLimited, Unavailable } from '../protocol/errors.js'
import type { RateLimiter } from '../limits/rate-limiter.js'
import { ShortLivedMap } from '../util/short-lived-map.js'

export interface SendRequest {
  channel: string
  sender: string
  content: string
  clientId?: string
}

export interface Sent {
  message: ChatMessage
  /** The request resent a message the sender had sent before (same clientId): nothing was stored or broadcast again. */
  duplicate: boolean
  /** With `trackStores`: resolves with the message as stored in MongoDB, rejects when it could not be stored yet. */
  stored?: Promise<ChatMessage>
}

/** A request that passed the clientId check: commit it, in the order requests must keep. */
export type Admission =
  | { kind: 'new', request: SendRequest, settle?: Deferred<Sent> }
  | { kind: 'duplicate', sent: Promise<Sent> }

export interface IntakeOptions {
  writer: Pick<MessageWriter, 'hasRoom' | 'accepting' | 'enqueue' | 'watch'>
  fanout: Pick<Fanout, 'publish'>
  /**
   * The stored message of a sender's clientId, if any. It must not reject: one that cannot tell
   * (in time) answers undefined, and the message is taken as new (MongoDB's unique index still
   * keeps it stored once). See clientIdLookup.
   */
  findByClientId (sender: string, clientId: string): Promise<ChatMessage | undefined>
  /** Give every Sent a `stored` promise (ACK_AFTER_STORE). */
  trackStores: boolean
  /** Each sender's message rate (a token per message); over it, a send is refused with 429. */
  rateLimiter?: Pick<RateLimiter, 'take'>
}

/** How long the answer to a resend waits for the first send, accepted by another instance, to be stored. */
const STORED_ELSEWHERE_WAIT_MS = 10_000

interface StoreWaiter {
  key?: string
  stored?: Deferred<ChatMessage>
}

/**
 * Accepts messages: recognises resends by (sender, clientId) — among the messages still queued
 * here, then in MongoDB, then (with Redis) among recent messages of every instance — gives each
 * new message its place in the channel, queues it for storage and broadcasts it.
 */
export class MessageIntake {
  readonly #options: IntakeOptions
  /** Messages with a clientId from admission until stored: a resend meanwhile gets the same answer. */
  readonly #byClientId = new ShortLivedMap<string, Promise<Sent>>()
  readonly #storeWaiters = new ShortLivedMap<string, StoreWaiter>()
  #committing = 0
  #closed = false

  constructor (options: IntakeOptions) {
    this.#options = options
    options.writer.watch({
      stored: (batch, superseded) => {
        if (this.#storeWaiters.size === 0) return
        for (const document of batch) {
          const id = document._id.toHexString()
          const first = superseded.get(id)
          this.#settleWaiter(id, (stored) => stored.resolve(first === undefined ? fromDocument(document) : fromDocument(first)))
        }
      },
      handedOff: (batch) => {
        if (this.#storeWaiters.size === 0) return
        for (const document of batch) {
          this.#settleWaiter(document._id.toHexString(), (stored) => stored.reject(new Unavailable('the database did not take the message in time; it is kept and will be stored; resend it with the same clientId to learn its id')))
        }
      }
    })
  }

  /** Admits and commits one request: for callers without an order to keep between requests (REST). */
  async send (request: SendRequest): Promise<Sent> {
    return this.commit(await this.admit(request))
  }

  /**
   * Looks for an earlier message with the request's clientId. Admissions may run concurrently;
   * commit them in the order the requests came in.
   */
  async admit (request: SendRequest): Promise<Admission> {
    return await this.admitNow(request)
  }

  /**
   * As admit, but a refusal (shutdown, rate) throws at once, and a request without a clientId is
   * admitted at once: a caller with nothing earlier left to commit can commit it in the same
   * turn, without a promise (most messages, at every message's cost).
   */
  admitNow (request: SendRequest): Admission | Promise<Admission> {
    if (this.#closed) throw refusal('shutting_down')
    const { sender, clientId } = request
    const waitMs = this.#options.rateLimiter?.take(sender) ?? 0
    if (waitMs > 0) throw rateLimited(waitMs)
    if (clientId === undefined) return { kind: 'new', request }
    return this.#lookUp(request, clientId)
  }

  async #lookUp (request: SendRequest, clientId: string): Promise<Admission> {
    const { sender } = request
    const key = clientKey(sender, clientId)
    const earlier = this.#byClientId.get(key)
    if (earlier !== undefined) return { kind: 'duplicate', sent: earlier.then(asDuplicate) }
    const settle = deferred<Sent>()
    this.#byClientId.set(key, settle.promise)
    settle.promise.catch(() => this.#byClientId.delete(key))
    const stored = await this.#options.findByClientId(sender, clientId)
    if (stored === undefined) return { kind: 'new', request, settle }
    this.#byClientId.delete(key)
    const sent: Sent = { message: stored, duplicate: true }
    if (this.#options.trackStores) sent.stored = Promise.resolve(stored)
    settle.resolve(sent)
    return { kind: 'duplicate', sent: settle.promise }
  }

  /** Orders, queues and broadcasts an admitted request; the publish starts synchronously, so calls keep their order. */
  commit (admission: Admission): Promise<Sent> {
    if (admission.kind === 'duplicate') return admission.sent
    const { writer, fanout, trackStores } = this.#options
    const { request, settle } = admission
    if (!writer.hasRoom || this.#closed) {
      const refused = refusal(writer.accepting && !this.#closed ? 'queue_full' : 'shutting_down')
      settle?.reject(refused)
      return Promise.reject(refused)
    }
    const objectId = new ObjectId()
    const draft = createDraft(request.channel, request.sender, request.content, request.clientId, objectId)
    let waiter: StoreWaiter | undefined
    this.#committing++
    const published = fanout.publish(draft, (message) => {
      writer.enqueue(toDocument(message, objectId), true)
      if (request.clientId === undefined && !trackStores) return
      waiter = { key: request.clientId === undefined ? undefined : clientKey(request.sender, request.clientId) }
      if (trackStores) waiter.stored = deferred()
      this.#storeWaiters.set(message.id, waiter)
    })
    // One reaction for both outcomes, not a .finally: a promise per message fewer.
    const sent = published.then(({ message, duplicate }): Sent => {
      this.#committing--
      if (duplicate && settle !== undefined) this.#byClientId.delete(clientKey(request.sender, request.clientId!))
      const result: Sent = { message, duplicate }
      // A resend that Redis recognised may still be queued on the instance that took the first send.
      if (trackStores) result.stored = duplicate ? this.#storedElsewhere(request.sender, request.clientId!) : waiter!.stored!.promise
      return result
    }, (error: unknown) => {
      this.#committing--
      throw error
    })
    if (settle !== undefined) sent.then(settle.resolve, settle.reject)
    return sent
  }

  /** Refuses new messages, lets those being committed reach the writer's queue, and fails the waits for stores that will not come. */
  async close (timeoutMs: number): Promise<void> {
    this.#closed = true
    const deadline = Date.now() + timeoutMs
    while (this.#committing > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
    for (const id of this.#storeWaiters.keys()) {
      this.#settleWaiter(id, (stored) => stored.reject(new Unavailable('shutting down before the message was stored; it is kept and will be stored; resend it with the same clientId to learn its id')))
    }
  }

  /** Resolves once the sender's message with this clientId is in MongoDB, wherever it was accepted. */
  async #storedElsewhere (sender: string, clientId: string): Promise<ChatMessage> {
    const deadline = Date.now() + STORED_ELSEWHERE_WAIT_MS
    while (!this.#closed && Date.now() < deadline) {
      const stored = await this.#options.findByClientId(sender, clientId)
      if (stored !== undefined) return stored
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    throw new Unavailable('the first send of this clientId is not stored yet; resend it later with the same clientId')
  }

  #settleWaiter (id: string, settle: (stored: Deferred<ChatMessage>) => void): void {
    const waiter = this.#storeWaiters.get(id)
    if (waiter === undefined) return
    this.#storeWaiters.delete(id)
    if (waiter.key !== undefined) this.#byClientId.delete(waiter.key)
    if (waiter.stored !== undefined) settle(waiter.stored)
  }
}

/** Why the intake refuses a message (a metrics label); carried by the 503 or 429 it throws. */
export type IntakeRefusal = 'queue_full' | 'shutting_down' | 'rate_limited'

function refusal (reason: IntakeRefusal): Error & { refusal: IntakeRefusal } {
  const message = reason === 'queue_full' ? 'too many messages waiting to be stored' : 'shutting down'
  return Object.assign(new Unavailable(message), { refusal: reason })
}

/** The 429 for a sender over its rate; `retryAfterS` becomes the Retry-After header (whole seconds, rounded up). */
function rateLimited (waitMs: number): Error & { refusal: IntakeRefusal, retryAfterS: number } {
  const retryAfterS = Math.ceil(waitMs / 1000)
  const error = new RateLimited(`this user sends messages faster than allowed; retry in ${retryAfterS} s`)
  return Object.assign(error, { refusal: 'rate_limited' as const, retryAfterS })
}

function asDuplicate (sent: Sent): Sent {
  return { ...sent, duplicate: true }
}

export interface Deferred<T> {
  promise: Promise<T>
  resolve (value: T): void
  reject (error: unknown): void
}

function deferred<T> (): Deferred<T> {
  let resolveWith!: (value: T) => void
  let rejectWith!: (error: unknown) => void
  const promise = new Promise<T>((resolve, reject) => { resolveWith = resolve; rejectWith = reject })
  // A rejection nobody waits for (a store wait the client no longer follows) is not an error.
  promise.catch(() => {})
  return { promise, resolve: resolveWith, reject: rejectWith }
}
