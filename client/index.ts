// The browser and Node client of fastify-chat-service: `import { ChatClient } from 'fastify-chat-service/client'`.
// ESM without runtime dependencies; it runs in browsers and in Node 22+ (global WebSocket), or
// anywhere with a WebSocket class passed in.
export { ChatClient } from './chat-client.js'
export type { ChatClientEvents, ChatClientOptions, ConnectionState, WebSocketImplementation } from './chat-client.js'
export type { LivenessOptions } from './liveness.js'
export { ChatError } from './frames.js'
export type { ChatMessage, Deletion, ErrorBody, ReadReceipt } from './frames.js'
