// Decorates `chatPresence`: who is present in which channel, across every instance with Redis
// (see lib/delivery/presence-redis.ts), and the sockets that opted in to presence frames.
// Every instance hears each join and leave once, as a signal, and hands it to its listeners.
// Feeds the `chat_presence_users` gauge.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { JOIN_SIGNAL, LEAVE_SIGNAL, type Presence, type PresentUsers } from '../lib/delivery/presence.js'
import { LocalPresence } from '../lib/delivery/presence-local.js'
import { RedisPresence } from '../lib/delivery/presence-redis.js'
import { PresenceListeners, type PresenceListener } from '../lib/delivery/presence-listeners.js'
import { RedisSignals } from '../lib/delivery/signals-redis.js'

/** Users listed in the `presence` frame a listener gets first. */
export const PRESENCE_FRAME_USERS = 100

export interface ChatPresence {
  /**
   * A socket of the user subscribed to the channel; with a listener, that subscription gets the
   * presence frames. Call the function it returns once, when the subscription ends.
   */
  enter (channel: string, user: string, listener?: PresenceListener): () => void
  users (channel: string, limit: number): Promise<PresentUsers>
}

declare module 'fastify' {
  interface FastifyInstance {
    chatPresence: ChatPresence
  }
}

async function presence (app: FastifyInstance): Promise<void> {
  const { presenceLeaveDelayMs, presenceEventsMaxUsers, countsTtlMs } = app.chatSettings
  const signals = app.chatSignals
  const present: Presence = signals instanceof RedisSignals
    ? new RedisPresence({ redis: signals.publisher, signals, leaveDelayMs: presenceLeaveDelayMs, ttlMs: countsTtlMs, log: app.log })
    : new LocalPresence({ signals, leaveDelayMs: presenceLeaveDelayMs })
  const listeners = new PresenceListeners({
    presence: present,
    snapshotSize: PRESENCE_FRAME_USERS,
    maxUsers: presenceEventsMaxUsers,
    onError: (error) => app.log.warn({ err: error }, 'reading presence for a listener failed')
  })
  signals.on(JOIN_SIGNAL, (channel, user) => listeners.joined(channel, user))
  signals.on(LEAVE_SIGNAL, (channel, user) => listeners.left(channel, user))
  app.chatMetrics.watchPresence(() => present.localUsers)

  app.decorate('chatPresence', {
    enter (channel, user, listener) {
      const counted = present.add(channel, user)
      if (listener !== undefined) listeners.listen(channel, listener, counted)
      let entered = true
      return () => {
        if (!entered) return
        entered = false
        if (listener !== undefined) listeners.unlisten(channel, listener)
        present.remove(channel, user)
      }
    },
    users: (channel, limit) => present.users(channel, limit)
  } satisfies ChatPresence)
  app.addHook('onReady', async () => present.start())
  app.addHook('onClose', async () => present.stop())
}

export default fp(presence, { name: 'chat-presence', dependencies: ['chat-settings', 'chat-metrics', 'chat-signals'] })
