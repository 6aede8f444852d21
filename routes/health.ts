import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

// Liveness only: answers while the process serves requests, whatever the database does.
const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/health', {
    schema: {
      operationId: 'health',
      summary: 'Liveness',
      description: 'Answers while the process serves requests. It does not check MongoDB: see /ready.',
      tags: ['operations'],
      response: { 200: Type.Object({ status: Type.Literal('ok') }, { description: 'The process is alive', examples: [{ status: 'ok' }] }) }
    }
  }, async () => ({ status: 'ok' as const }))
}

export default health
