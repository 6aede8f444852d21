import type { Readable } from 'node:stream'
import { BodyTooLarge } from './errors.js'

/** Reads a whole request body, refusing one larger than `limit` bytes. */
export async function readBody (stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let length = 0
  for await (const chunk of stream) {
    length += (chunk as Buffer).length
    if (length > limit) {
      stream.destroy()
      throw new BodyTooLarge(limit)
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}
