// The one JSON error shape of the service, for HTTP replies and WebSocket error frames.
import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { NotFound, type ErrorBody } from '../lib/protocol/errors.js'

const RETRY_AFTER_SECONDS = '5'

/** Fastify's own messages, where they do not say what the client should change. */
const clearerMessages: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'Content-Type must be application/json'
}

export function toErrorBody (error: Partial<FastifyError> & Error): ErrorBody {
  const statusCode = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500
  const exposed = statusCode < 500 || error.code?.startsWith('CHAT_') === true
  return {
    statusCode,
    code: exposed ? error.code ?? 'CHAT_BAD_REQUEST' : 'CHAT_INTERNAL_ERROR',
    error: STATUS_CODES[statusCode] ?? 'Error',
    message: exposed ? clearerMessages[error.code ?? ''] ?? error.message : 'Internal Server Error'
  }
}

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
