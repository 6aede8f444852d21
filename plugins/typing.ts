// Decorates `chatTyping`, which the WebSocket route hands each client frame first: a typing
// notice is relayed (through the signals, to every instance) or answered with an error frame;
// any other frame is left to the route. TYPING_INTERVAL_MS throttles each user and channel.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Claims } from '../lib/auth/access.js'
import { Typing } from '../lib/delivery/typing.js'
import { toErrorBody } from './error-replies.js'

export interface ChatTyping {
  /** Whether the frame was a typing notice (then it is handled, and `reply` gets any error frame). */
  handle (data: Buffer, isBinary: boolean, claims: Claims, reply: (text: string) => void): boolean
}

declare module 'fastify' {
  interface FastifyInstance {
    chatTyping: ChatTyping
  }
}

async function typing (app: FastifyInstance): Promise<void> {
  const metrics = app.chatMetrics
  const notices = new Typing({
    hub: app.chatHub,
    signals: app.chatSignals,
    intervalMs: app.chatSettings.typingIntervalMs,
    authorize: app.chatAuthorize,
    relayed: () => metrics.typingRelayed(),
    dropped: () => metrics.typingDropped()
  })
  // The error frame names the channel: a socket may send notices to several.
  const refuse = (reply: (text: string) => void, error: unknown, channel?: string): void =>
    reply(JSON.stringify({ error: { ...toErrorBody(error as Error), ...(channel === undefined ? {} : { channel }) } }))

  app.decorate('chatTyping', {
    handle (data, isBinary, claims, reply) {
      let channel: string | undefined
      try {
        channel = Typing.channelOf(data, isBinary)
      } catch (error) {
        refuse(reply, error)
        return true
      }
      if (channel === undefined) return false
      notices.typed(claims, channel).catch((error: unknown) => refuse(reply, error, channel))
      return true
    }
  } satisfies ChatTyping)
  app.addHook('onReady', async () => notices.start())
  app.addHook('onClose', async () => notices.stop())
}

export default fp(typing, { name: 'chat-typing', dependencies: ['chat-settings', 'chat-metrics', 'chat-hub', 'chat-auth', 'chat-signals'] })
