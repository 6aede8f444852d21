import type { Hub } from './hub.js'

export type FanoutStatus = 'single-instance' | 'up' | 'down'

/** Delivery beyond this process, and the counts that go with it. */
export interface Fanout {
  /** Delivers a message (its JSON) that was already broadcast locally to the other instances. */
  publish (channel: string, messageId: string, payload: Buffer): void
  /** Connected clients per channel, across every instance. */
  counts (channels: string[]): Promise<Record<string, number>>
  status (): FanoutStatus
}

/** One instance: nothing to publish, and the local hub knows every client. */
export function singleInstance (hub: Hub): Fanout {
  return {
    publish () {},
    counts: async (channels) => Object.fromEntries(channels.map((channel) => [channel, hub.count(channel)])),
    status: () => 'single-instance'
  }
}
