// A MongoDB wire-protocol sink for the benchmarks: it answers the driver's handshake and
// acknowledges every write without storing anything, so a run measures the service's own cost
// of persisting (batching, BSON, the driver) and none of a database's. Reads find nothing.
// A delete answers with the number of documents inserted since the previous delete, so the
// bench's janitor still counts what the service stored.
// Prints "listening <port>"; PORT picks the port (0: any).
import { createServer, type Socket } from 'node:net'
import { BSON, Long } from 'mongodb'

const OP_REPLY = 1
const OP_QUERY = 2004
const OP_MSG = 2013
const HEADER_BYTES = 16
const MAX_WIRE_VERSION = 21
const CURSOR_COMMANDS = new Set(['find', 'aggregate', 'listIndexes', 'listCollections', 'getMore'])

let connections = 0
let insertedSinceDelete = 0

/** The answer to one command; `documents` counts the documents that came in a payload section. */
function answer (command: Record<string, unknown>, documents: number): Record<string, unknown> {
  const name = Object.keys(command)[0] ?? ''
  switch (name) {
    case 'hello':
    case 'isMaster':
    case 'ismaster':
      return {
        helloOk: true,
        ismaster: true,
        isWritablePrimary: true,
        maxBsonObjectSize: 16 * 1024 * 1024,
        maxMessageSizeBytes: 48_000_000,
        maxWriteBatchSize: 100_000,
        localTime: new Date(),
        logicalSessionTimeoutMinutes: 30,
        connectionId: connections,
        minWireVersion: 0,
        maxWireVersion: MAX_WIRE_VERSION,
        readOnly: false,
        ok: 1
      }
    case 'buildInfo':
    case 'buildinfo':
      return { version: '7.0.0', versionArray: [7, 0, 0, 0], ok: 1 }
    case 'insert': {
      const n = documents + ((command.documents as unknown[] | undefined)?.length ?? 0)
      insertedSinceDelete += n
      return { n, ok: 1 }
    }
    case 'delete': {
      const n = insertedSinceDelete
      insertedSinceDelete = 0
      return { n, ok: 1 }
    }
    case 'update':
      return { n: 0, nModified: 0, ok: 1 }
    case 'count':
      return { n: 0, ok: 1 }
    default: {
      if (!CURSOR_COMMANDS.has(name)) return { ok: 1 }
      const batch = name === 'getMore' ? 'nextBatch' : 'firstBatch'
      const collection = name === 'getMore' ? command.collection : command[name]
      return { cursor: { id: Long.ZERO, ns: `${String(command.$db)}.${String(collection)}`, [batch]: [] }, ok: 1 }
    }
  }
}

/** Counts the BSON documents of an OP_MSG kind-1 section without reading them. */
function countDocuments (data: Buffer, start: number, end: number): number {
  let offset = data.indexOf(0, start) + 1
  let count = 0
  while (offset < end) {
    offset += data.readInt32LE(offset)
    count++
  }
  return count
}

function header (length: number, responseTo: number, opCode: number): Buffer {
  const bytes = Buffer.allocUnsafe(HEADER_BYTES)
  bytes.writeInt32LE(length, 0)
  bytes.writeInt32LE(0, 4)
  bytes.writeInt32LE(responseTo, 8)
  bytes.writeInt32LE(opCode, 12)
  return bytes
}

function opMsg (message: Buffer, requestId: number): Buffer {
  let command: Record<string, unknown> = {}
  let documents = 0
  let offset = HEADER_BYTES + 4
  // A trailing CRC-32C (flag bit 0) is no section.
  const end = (message.readUInt32LE(HEADER_BYTES) & 1) === 1 ? message.length - 4 : message.length
  while (offset < end) {
    const kind = message[offset]
    const size = message.readInt32LE(offset + 1)
    if (kind === 0) {
      // An insert command's documents stay unread (raw), as those of a kind-1 section: only counted.
      command = BSON.deserialize(message.subarray(offset + 1, offset + 1 + size), { fieldsAsRaw: { documents: true } })
      offset += 1 + size
    } else {
      documents += countDocuments(message, offset + 5, offset + 1 + size)
      offset += 1 + size
    }
  }
  const body = BSON.serialize(answer(command, documents))
  const flags = Buffer.alloc(5)
  return Buffer.concat([header(HEADER_BYTES + 5 + body.length, requestId, OP_MSG), flags, body])
}

/** The legacy handshake (a hello over OP_QUERY, before the driver knows the server speaks OP_MSG). */
function opQuery (message: Buffer, requestId: number): Buffer {
  const nameEnd = message.indexOf(0, HEADER_BYTES + 4)
  const queryStart = nameEnd + 1 + 8
  const command = BSON.deserialize(message.subarray(queryStart, queryStart + message.readInt32LE(queryStart)))
  const body = BSON.serialize(answer(command, 0))
  const reply = Buffer.alloc(20)
  reply.writeInt32LE(1, 16)
  return Buffer.concat([header(HEADER_BYTES + 20 + body.length, requestId, OP_REPLY), reply, body])
}

function serve (socket: Socket): void {
  connections++
  socket.setNoDelay(true)
  let pending: Buffer = Buffer.alloc(0)
  socket.on('error', () => socket.destroy())
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    const replies: Buffer[] = []
    while (pending.length >= HEADER_BYTES && pending.length >= pending.readInt32LE(0)) {
      const length = pending.readInt32LE(0)
      const message = pending.subarray(0, length)
      pending = pending.subarray(length)
      const requestId = message.readInt32LE(4)
      const opCode = message.readInt32LE(12)
      if (opCode === OP_MSG) replies.push(opMsg(message, requestId))
      else if (opCode === OP_QUERY) replies.push(opQuery(message, requestId))
      else socket.destroy(new Error(`unsupported opCode ${opCode}`))
    }
    if (replies.length > 0) socket.write(replies.length === 1 ? replies[0]! : Buffer.concat(replies))
  })
}

const server = createServer(serve)
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`listening ${(server.address() as { port: number }).port}`)
})
