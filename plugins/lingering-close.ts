// A hook that lets a client read an answer sent before its request's body has all arrived: a 413
// for the body's size, a 401 or 415 before the upload, a 413 from the counts route's own reader.
// Node's HTTP server closes such a connection (Connection: close) as soon as the answer is out,
// and what the client still sends then meets a reset: a client that writes its whole body
// before it reads (fetch, most SDKs) gets EPIPE or ECONNRESET instead of the answer. Here the
// connection closes the way HTTP servers call a lingering close: the answer goes out with
// Connection: close, the sending side is shut, and the rest of the body is read and thrown away
// until it ends, for at most LINGER_MS and LINGER_MAX_BYTES, then the socket is closed.
import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'

/** How long a refused body may keep arriving after the answer. */
export const LINGER_MS = 5_000
/** How much of a refused body is read and discarded after the answer, at most. */
export const LINGER_MAX_BYTES = 4 * 1024 * 1024

const lingering = Symbol('chat.lingering')

type LingeringSocket = Socket & { [lingering]?: true }

async function lingeringClose (app: FastifyInstance): Promise<void> {
  // A callback hook, no promise per answer: it runs for every answer, and most pass the first test.
  app.addHook('onSend', (request, reply, payload, done) => {
    const raw = request.raw
    const socket = raw.socket as LingeringSocket | null
    // Upgrades carry no body; a request whose body has all arrived closes (or stays) as usual.
    if (!raw.complete && raw.headers.upgrade === undefined && socket !== null && !socket.destroyed) {
      // The connection cannot serve another request before the body is through: say it closes.
      reply.header('connection', 'close')
      lingerBeforeClosing(socket, raw)
    }
    done(null, payload)
  })
}

/**
 * Node's HTTP server ends a Connection: close exchange with `socket.destroySoon()`: shut the
 * sending side, then destroy the socket, unread bytes or not. For this one socket, keep reading
 * after the shutdown instead, and destroy once the body ended (and the answer is flushed), or
 * once the bounds are reached. The body is read (and counted) from now on: a request Node would
 * dump itself emits no data to count.
 */
function lingerBeforeClosing (socket: LingeringSocket, request: IncomingMessage): void {
  if (socket[lingering] === true) return
  socket[lingering] = true
  let discarded = 0
  let timer: NodeJS.Timeout | undefined
  const close = (): void => {
    clearTimeout(timer)
    request.removeListener('data', discard)
    socket.destroy()
  }
  const discard = (chunk: Buffer): void => {
    discarded += chunk.length
    if (discarded > LINGER_MAX_BYTES) close()
  }
  const closeOnceFlushed = (): void => {
    if (socket.writableFinished) close()
    else socket.once('finish', close)
  }
  request.on('data', discard)
  socket.once('close', () => clearTimeout(timer))
  socket.destroySoon = function destroyAfterTheBody (): void {
    if (socket.writable) socket.end()
    timer = setTimeout(close, LINGER_MS)
    if (request.readableEnded) closeOnceFlushed()
    else request.once('end', closeOnceFlushed)
  }
}

export default fp(lingeringClose, { name: 'chat-lingering-close' })
