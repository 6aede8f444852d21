// The one JSON error shape of the service, for HTTP replies and WebSocket error frames.
import { STATUS_CODES } from 'node:http'
import type { ErrorBody } from './errors.js'

/** What the service reads of an error: its own errors, Fastify's and anything thrown. */
export interface ErrorLike extends Error {
  statusCode?: number
  code?: string
}

/** Fastify's own messages, where they do not say what the client should change. */
const clearerMessages: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'Content-Type must be application/json'
}

export function toErrorBody (error: ErrorLike): ErrorBody {
  const statusCode = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500
  const exposed = statusCode < 500 || error.code?.startsWith('CHAT_') === true
  return {
    statusCode,
    code: exposed ? error.code ?? 'CHAT_BAD_REQUEST' : 'CHAT_INTERNAL_ERROR',
    error: STATUS_CODES[statusCode] ?? 'Error',
    message: exposed ? clearerMessages[error.code ?? ''] ?? error.message : 'Internal Server Error'
  }
}
