import type { LoadShape } from './measure-window.js'
// The many-channels scenario's shared parts: which channels a socket joins, the frames each
// server speaks, the marked content a delivery is read back from, a latency histogram. No side
// effects, so the part, the generator and a unit test can all import it.

export type RoomServerKind = 'service' | 'raw-ws-rooms' | 'socket.io-rooms'

export interface ManyConfig extends LoadShape {
  kind: RoomServerKind
  port: number
  /** Sockets this process opens, numbered from `first`: socket i subscribes to channelsOf(i). */
  first: number
  count: number
  /** All sockets of the scenario (every process together): sets how many members a channel has. */
  sockets: number
  perSocket: number
  channels: number
  /** Sockets first..first+publishers-1 also publish, each to its own channels in turn. */
  publishers: number
  /** Connect, subscribe, report, and hold the sockets idle until stdin closes. */
  idle?: boolean
}

export interface ManyResult {
  published: number
  /** Every message frame that arrived, duplicates included. */
  delivered: number
  deliveredPerSecond: number
  expected: number
  duplicates: number
  lost: number
  refused: number
  latencyMs: { p50: number, p99: number, max: number }
  generatorCpuSeconds: number
  measuredSeconds: number
}

/** The distance between a socket's channels: its K channels spread over all C, not K neighbours. */
function strideOf (perSocket: number, channels: number): number {
  if (perSocket < 1 || perSocket > channels) throw new Error(`cannot subscribe to ${perSocket} of ${channels} channels`)
  return Math.floor(channels / perSocket)
}

/**
 * The channels socket i subscribes to: i, i + s, i + 2s, ... modulo C, with s = floor(C / K).
 * They are K distinct channels, neighbouring sockets share most but not all of them, and over
 * a multiple of C sockets every channel has exactly N·K/C members.
 */
export function channelsOf (socket: number, perSocket: number, channels: number): number[] {
  const stride = strideOf(perSocket, channels)
  return Array.from({ length: perSocket }, (_, slot) => (socket + slot * stride) % channels)
}

/** Where channel c is among channelsOf(socket), or -1: arithmetic, as it runs once per delivery. */
export function slotOf (socket: number, channel: number, perSocket: number, channels: number): number {
  const stride = strideOf(perSocket, channels)
  const distance = (((channel - socket) % channels) + channels) % channels
  return distance % stride === 0 && distance / stride < perSocket ? distance / stride : -1
}

/** How many of sockets 0..sockets-1 each channel has. */
export function membersOf (sockets: number, perSocket: number, channels: number): number[] {
  const members = new Array<number>(channels).fill(0)
  for (let socket = 0; socket < sockets; socket++) for (const channel of channelsOf(socket, perSocket, channels)) members[channel]!++
  return members
}

export const channelName = (channel: number): string => `c${channel}`

/**
 * Content: "@@" + send time (13 digits, µs) + "#" + publisher (5) + "#" + channel (5) + "#" + the
 * publisher's count of messages to that channel (9), padded. Fixed widths, so a delivery is read
 * without parsing its frame; the count finds duplicates, as each channel keeps a publisher's order.
 */
export const MARK = '@@'
export const CONTENT = { time: 2, publisher: 16, channel: 22, count: 28, length: 37 } as const

export function markedContent (sentAtUs: number, publisher: number, channel: number, count: number, payloadBytes: number): string {
  const text = `${MARK}${String(sentAtUs).padStart(13, '0')}#${String(publisher).padStart(5, '0')}#${String(channel).padStart(5, '0')}#${String(count).padStart(9, '0')}`
  return text + 'x'.repeat(Math.max(0, payloadBytes - text.length))
}

/** Reads n decimal digits at offset without allocating. */
export function digits (data: Uint8Array, offset: number, n: number): number {
  let value = 0
  for (let i = offset; i < offset + n; i++) value = value * 10 + data[i]! - 48
  return value
}

/**
 * The frames of each server. The service and the raw rooms server speak the service's protocol;
 * the Socket.IO server takes "subscribe" and "msg" events and answers "subscribed".
 */
export const frames = {
  subscribe (kind: RoomServerKind, channel: string): string {
    return kind === 'socket.io-rooms' ? `42["subscribe","${channel}"]` : `{"subscribe":{"channel":"${channel}"}}`
  },
  message (kind: RoomServerKind, channel: string, content: string): string {
    return kind === 'socket.io-rooms' ? `42["msg","${channel}","${content}"]` : `{"channel":"${channel}","content":"${content}"}`
  }
}
/** What a subscribe is answered with, in every server's frames. */
export const SUBSCRIBED = 'subscribed'

const BUCKET_US = 10
/** Up to 10 s: past saturation (or on a busy machine) latencies of seconds are still told apart. */
const BUCKETS = 1_000_000

/** Latencies in BUCKET_US buckets, recorded without allocating. */
export class Histogram {
  readonly #buckets = new Uint32Array(BUCKETS)
  #maxUs = 0
  #count = 0

  record (latencyUs: number): void {
    this.#buckets[Math.min(BUCKETS - 1, Math.floor(latencyUs / BUCKET_US))]!++
    this.#count++
    if (latencyUs > this.#maxUs) this.#maxUs = latencyUs
  }

  summary (): { p50: number, p99: number, max: number } {
    return { p50: this.#percentile(0.5), p99: this.#percentile(0.99), max: this.#maxUs / 1000 }
  }

  #percentile (fraction: number): number {
    let seen = 0
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#buckets[i]!
      if (seen >= this.#count * fraction) return ((i + 1) * BUCKET_US) / 1000
    }
    return this.#maxUs / 1000
  }
}
