import type { IncomingMessage } from 'node:http'
import { BodyTooLarge } from '../protocol/errors.js'

/** Reads a whole request body, refusing one larger than `limit` bytes. */
export function readBody (request: IncomingMessage, limit: number): Promise<Buffer> {
  if (Number(request.headers['content-length'] ?? 0) > limit) return Promise.reject(new BodyTooLarge(limit))
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let length = 0
    const onData = (chunk: Buffer): void => {
      length += chunk.length
      if (length <= limit) {
        chunks.push(chunk)
        return
      }
      // Discard the rest rather than reset the connection, so the client reads the 413.
      request.removeListener('data', onData)
      request.resume()
      reject(new BodyTooLarge(limit))
    }
    request.on('data', onData)
    request.once('end', () => resolve(Buffer.concat(chunks)))
    request.once('error', reject)
  })
}
