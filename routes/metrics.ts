import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

// The Prometheus scrape target; METRICS=false leaves it out (a host registry is then served by the host).
const metrics: FastifyPluginAsyncTypebox = async (app) => {
  if (!app.chatSettings.metrics) return
  app.get('/metrics', {
    schema: {
      operationId: 'metrics',
      summary: 'Prometheus metrics',
      description: 'The Prometheus text format (version 0.0.4): message, delivery, connection, write-queue and batch-write metrics, ' +
        'Redis state when REDIS_URL is set, and the process and Node.js metrics. See the README for the table of metrics.',
      tags: ['operations'],
      response: {
        200: {
          description: 'The metrics',
          content: {
            'text/plain': {
              schema: Type.String(),
              example: '# HELP chat_messages_accepted_total Messages accepted (queued for storage and broadcast), by transport.\n' +
                '# TYPE chat_messages_accepted_total counter\nchat_messages_accepted_total{transport="rest"} 12\nchat_messages_accepted_total{transport="ws"} 30\n'
            }
          }
        }
      }
    }
  }, async (_request, reply) => reply.type(app.chatMetrics.contentType).send(await app.chatMetrics.scrape()))
}

export default metrics
