// Decorates `chatTokenExpiry`: an open WebSocket is closed with 4001 "token expired" once its
// token stops being accepted (exp plus the clock tolerance). One timer serves every socket.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { ExpirySchedule } from '../lib/util/expiry-schedule.js'
import type { Client } from '../lib/delivery/hub.js'
import { CLOSE, CLOSE_REASON } from '../lib/protocol/wire.js'

declare module 'fastify' {
  interface FastifyInstance {
    chatTokenExpiry: TokenExpiry
  }
}

export interface TokenExpiry {
  /** Closes the client when a token with this `exp` expires; a token without `exp` never does. */
  watch (client: Client, exp: number | undefined): void
  /** The client went away first: forget it. */
  unwatch (client: Client, exp: number | undefined): void
}

async function tokenExpiry (app: FastifyInstance): Promise<void> {
  const toleranceS = app.chatSettings.jwtClockToleranceS
  const schedule = new ExpirySchedule<Client>((client) => client.close(CLOSE.tokenExpired, CLOSE_REASON.tokenExpired))
  app.decorate('chatTokenExpiry', {
    watch (client, exp) {
      if (exp !== undefined) schedule.add(client, exp + toleranceS)
    },
    unwatch (client, exp) {
      if (exp !== undefined) schedule.remove(client, exp + toleranceS)
    }
  } satisfies TokenExpiry)
  app.addHook('onClose', async () => schedule.clear())
}

export default fp(tokenExpiry, { name: 'chat-token-expiry', dependencies: ['chat-settings'] })
