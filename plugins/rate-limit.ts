// Registers @fastify/rate-limit with no global limit: only routes that set `config.rateLimit`
// (the unauthenticated counts endpoint) are limited, per client address. A host that registered
// it already limits those routes with its own instance, so then the service adds none.
import rateLimit from '@fastify/rate-limit'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { RateLimited } from '../lib/protocol/errors.js'

async function routeRateLimits (app: FastifyInstance): Promise<void> {
  if (app.hasDecorator('rateLimit')) return
  await app.register(rateLimit, {
    global: false,
    // The answer in the service's error shape; the plugin sets Retry-After itself.
    errorResponseBuilder: (_request, context) => new RateLimited(`at most ${context.max} requests per minute from one address; retry in ${context.after}`)
  })
}

export default fp(routeRateLimits, { name: 'chat-rate-limit' })
