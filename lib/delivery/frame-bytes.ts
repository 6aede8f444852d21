/**
 * An unmasked, final WebSocket text frame (RFC 6455 section 5.2) holding the text, encoded
 * straight into it (no intermediate Buffer): a broadcast builds it once and writes the same
 * bytes to every socket of the channel.
 */
export function textFrameOf (text: string): Buffer {
  const length = Buffer.byteLength(text)
  const frame = frameFor(length)
  frame.write(text, frame.length - length, 'utf8')
  return frame
}

/** A frame with its header written and room for `length` payload bytes after it. */
function frameFor (length: number): Buffer {
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10
  const frame = Buffer.allocUnsafe(headerLength + length)
  frame[0] = 0x81
  if (length < 126) {
    frame[1] = length
  } else if (length < 65_536) {
    frame[1] = 126
    frame.writeUInt16BE(length, 2)
  } else {
    frame[1] = 127
    frame.writeBigUInt64BE(BigInt(length), 2)
  }
  return frame
}

/** The header length of the frame that starts at `offset` (as textFrameOf and the Redis ordering script build them: unmasked). */
export function frameHeaderLength (buffer: Buffer, offset = 0): number {
  const length = buffer[offset + 1]! & 0x7f
  return length < 126 ? 2 : length === 126 ? 4 : 10
}

/** The frames of `frames` (frames back to back) after its first `skip`. */
export function skipFrames (frames: Buffer, skip: number): Buffer {
  let offset = 0
  for (let skipped = 0; skipped < skip; skipped++) offset += frameLengthAt(frames, offset)
  return frames.subarray(offset)
}

/** The payload of each frame of `frames` (frames back to back). */
export function framePayloads (frames: Buffer): Buffer[] {
  const payloads: Buffer[] = []
  for (let offset = 0, end = 0; offset < frames.length; offset = end) {
    end = offset + frameLengthAt(frames, offset)
    payloads.push(frames.subarray(offset + frameHeaderLength(frames, offset), end))
  }
  return payloads
}

/** The number of frames in `frames` (frames back to back). */
export function frameCount (frames: Buffer): number {
  let count = 0
  for (let offset = 0; offset < frames.length; offset += frameLengthAt(frames, offset)) count++
  return count
}

/** The length, header included, of the frame that starts at `offset`. */
export function frameLengthAt (buffer: Buffer, offset: number): number {
  const headerLength = frameHeaderLength(buffer, offset)
  if (headerLength === 2) return 2 + (buffer[offset + 1]! & 0x7f)
  if (headerLength === 4) return 4 + buffer.readUInt16BE(offset + 2)
  return 10 + buffer.readUInt32BE(offset + 6) + buffer.readUInt32BE(offset + 2) * 2 ** 32
}
