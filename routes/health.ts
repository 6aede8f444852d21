import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

// Liveness only: answers while the process serves requests, whatever the database does.
const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/health', {
    schema: { response: { 200: Type.Object({ status: Type.Literal('ok') }) } }
  }, async () => ({ status: 'ok' as const }))
}

export default health
