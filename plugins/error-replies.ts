// Replies in the service's one error shape (lib/protocol/error-body.ts).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { NotFound } from '../lib/protocol/errors.js'
import { toErrorBody } from '../lib/protocol/error-body.js'

const RETRY_AFTER_SECONDS = '5'

export function replyWithError (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const body = toErrorBody(error)
  if (request.raw.aborted || request.raw.socket?.destroyed === true) {
    // The client went away (closed or timed out mid-request): nothing to answer, nothing wrong here.
    request.log.debug({ err: error }, 'request aborted by the client')
  } else if (body.code === 'CHAT_INTERNAL_ERROR') {
    request.log.error({ err: error }, 'request failed')
  }
  if (body.statusCode === 503) reply.header('retry-after', RETRY_AFTER_SECONDS)
  const retryAfterS = (error as { retryAfterS?: number }).retryAfterS
  if (retryAfterS !== undefined) reply.header('retry-after', String(retryAfterS))
  reply.code(body.statusCode).send(body)
}

export function replyNotFound (request: FastifyRequest, reply: FastifyReply): void {
  replyWithError(new NotFound(request.method, request.url.split('?')[0]), request, reply)
}
