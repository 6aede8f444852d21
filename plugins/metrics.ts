// Decorates `chatMetrics`: the Prometheus counters, gauges and histogram of the service, which
// the other plugins and the transports feed through small methods (see lib/operations/metrics.ts).
// Registry: the service's own, served at GET /metrics with the process metrics; or, mounted,
// the host's (`metricsRegistry` option), so that one /metrics serves both. With METRICS=false
// and no host registry nothing is counted.
import fp from 'fastify-plugin'
import { Registry } from 'prom-client'
import type { FastifyInstance } from 'fastify'
import { disabledMetrics, PrometheusMetrics, type ChatMetrics } from '../lib/operations/metrics.js'
import type { ChatOptions } from '../lib/config/options.js'

declare module 'fastify' {
  interface FastifyInstance {
    chatMetrics: ChatMetrics
  }
}

async function metrics (app: FastifyInstance, options: ChatOptions): Promise<void> {
  const hostRegistry = options.metricsRegistry
  if (!app.chatSettings.metrics && hostRegistry === undefined) {
    app.decorate('chatMetrics', disabledMetrics)
    return
  }
  const counted = new PrometheusMetrics({ registry: hostRegistry ?? new Registry(), withProcessMetrics: hostRegistry === undefined })
  app.decorate('chatMetrics', counted)
  // A host that builds the service again (tests, reloads) can register it in the same registry.
  app.addHook('onClose', async () => counted.unregister())
}

export default fp(metrics, { name: 'chat-metrics', dependencies: ['chat-settings'] })
