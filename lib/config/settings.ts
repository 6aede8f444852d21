import { Type, type Static } from 'typebox'

/** WRITE_BATCH_WINDOW_MS when unset: see writeBatchWindowMsOf. */
const WRITE_BATCH_WINDOW_MS = { default: 50, ackAfterStore: 5 }

/**
 * Every setting of the service, in one schema. A plugin option wins; otherwise the
 * environment variable of the same name in SCREAMING_SNAKE_CASE (mongoUri -> MONGO_URI).
 */
export const SettingsSchema = Type.Object({
  mongoUri: Type.Optional(Type.String({ minLength: 1, description: 'MongoDB connection string; unset starts an embedded in-memory server' })),
  mongoDb: Type.String({ minLength: 1, default: 'chatdb' }),
  mongoCollection: Type.String({ minLength: 1, default: 'messages' }),
  retryAttempts: Type.Integer({ minimum: 0, maximum: 100, default: 5 }),
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
  host: Type.String({ minLength: 1, default: '0.0.0.0' }),
  jwtSecret: Type.Optional(Type.String({ minLength: 1 })),
  jwtInsecureSkipVerify: Type.Boolean({ default: false, description: "The seed's parse-only mode: tokens are decoded, not verified" }),
  jwtPublicKey: Type.Optional(Type.String({ minLength: 1, description: 'One PEM public key (RSA, EC or Ed25519) for RS/PS/ES/EdDSA tokens' })),
  jwtJwksUrl: Type.Optional(Type.String({ pattern: '^https?://', description: "An identity provider's JSON Web Key Set, for RS/PS/ES/EdDSA tokens" })),
  jwtJwksCooldownMs: Type.Integer({ minimum: 100, maximum: 30_000, default: 10_000, description: 'A token with an unknown kid refetches the JWKS at most once per this' }),
  jwtIssuer: Type.Optional(Type.String({ minLength: 1, description: 'Accepted iss, comma-separated; unset: iss is not checked' })),
  jwtAudience: Type.Optional(Type.String({ minLength: 1, description: 'Accepted aud, comma-separated; unset: aud is not checked' })),
  jwtClockToleranceS: Type.Integer({ minimum: 0, maximum: 300, default: 5, description: 'Leeway for exp and nbf' }),
  jwtRolesClaim: Type.String({ minLength: 1, default: 'roles', description: 'The claim holding a token\'s roles: a name, or a dotted path into nested claims (realm_access.roles)' }),
  jwtModeratorRole: Type.String({ minLength: 1, default: 'chat-moderator', description: 'The role that lets a token delete others\' messages in the channels it may read' }),
  jwtCacheSize: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 1_000, description: 'Verified tokens kept until they expire; 0 verifies every time' }),
  redisUrl: Type.Optional(Type.String({ minLength: 1, description: 'Redis for fan-out and counts across instances; unset runs as a single instance' })),
  redisClusterNodes: Type.Optional(Type.String({
    pattern: '^\\s*[^,\\s]+:\\d{1,5}\\s*(,\\s*[^,\\s]+:\\d{1,5}\\s*)*$',
    description: 'A Redis Cluster for fan-out (sharded pub/sub) and counts: comma-separated host:port seeds; exclusive with REDIS_URL'
  })),
  countsTtlMs: Type.Integer({ minimum: 300, default: 3_000, description: 'How long the counts of an instance that crashed stay visible; its users leave presence soon after' }),
  presenceLeaveDelayMs: Type.Integer({ minimum: 0, maximum: 60_000, default: 3_000, description: 'How long a user stays present after their last socket on an instance closes (a page reload does not leave and join again)' }),
  presenceEventsMaxUsers: Type.Integer({ minimum: 0, default: 1_000, description: 'Above this many present users a channel sends no join and leave frames' }),
  typingIntervalMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 2_000, description: 'At most one typing notice per user and channel is relayed per this; the rest are dropped' }),
  writeBatchSize: Type.Integer({ minimum: 1, maximum: 10_000, default: 500 }),
  writeBatchWindowMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000, description: `How far apart batch writes start at least (a message after a quiet spell is written at once); default ${WRITE_BATCH_WINDOW_MS.default}, or ${WRITE_BATCH_WINDOW_MS.ackAfterStore} with ACK_AFTER_STORE (the sender waits for it)` })),
  writeQueueMax: Type.Integer({ minimum: 1, default: 100_000 }),
  writeRetryMinDelayMs: Type.Integer({ minimum: 1, default: 100 }),
  writeRetryMaxDelayMs: Type.Integer({ minimum: 1, default: 5_000 }),
  shutdownTimeoutMs: Type.Integer({ minimum: 0, default: 10_000 }),
  deadLetterFile: Type.String({ minLength: 1, default: 'dead-letter/messages.jsonl', description: 'Where messages go that could not be stored; replayed at start' }),
  ackAfterStore: Type.Boolean({ default: false, description: 'Answer a send (REST reply, WebSocket ack) only once the message is stored in MongoDB' }),
  userMessageRate: Type.Number({ minimum: 0, default: 20, description: 'Messages per second one user id may send, sustained, over REST and WebSocket together (per instance); 0 turns the limit off' }),
  userMessageBurst: Type.Integer({ minimum: 0, default: 60, description: 'Messages one user id may send at once above the sustained rate; at least 1 while the rate is on' }),
  userMaxConnections: Type.Integer({ minimum: 0, default: 50, description: 'Open WebSockets per user id (per instance); 0 turns the cap off' }),
  maxChannelsPerConnection: Type.Integer({ minimum: 0, default: 128, description: 'Channels one WebSocket may be subscribed to at once; 0 turns the cap off' }),
  wsPingIntervalMs: Type.Integer({ minimum: 0, default: 25_000, description: 'Every WebSocket gets a ping this often; 0 turns the heartbeat off' }),
  wsPongTimeoutMs: Type.Integer({ minimum: 100, default: 10_000, description: 'A WebSocket from which nothing has arrived for WS_PING_INTERVAL_MS plus this is cut off' }),
  countsRateLimit: Type.Integer({ minimum: 0, default: 600, description: 'Requests per minute one client address may make to the unauthenticated counts endpoint; 0 turns the limit off' }),
  catchUpMemoryBytes: Type.Integer({ minimum: 1_048_576, default: 67_108_864, description: 'Memory all catch-ups together may hold in missed messages read and not yet taken by their clients' }),
  requestTimeoutMs: Type.Integer({ minimum: 1_000, default: 20_000, description: 'Standalone server: a request whose headers and body have not all arrived by then is closed' }),
  readyQueueThreshold: Type.Integer({ minimum: 1, default: 10_000, description: 'GET /ready fails while more messages than this wait to be stored' }),
  allowedOrigins: Type.Optional(Type.String({ minLength: 1, description: 'Browser origins allowed to call the service: comma-separated exact origins, or *; unset allows the same origin only' })),
  chatPage: Type.Optional(Type.Boolean({ description: 'Serve the chat page at GET /: standalone unless CHAT_PAGE=false; mounted only when the option is true' })),
  logLevel: Type.Union([
    Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'),
    Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent')
  ], { default: 'info' }),
  metrics: Type.Boolean({ default: true, description: 'GET /metrics in the Prometheus text format; false turns the route off' }),
  docs: Type.Boolean({ default: true, description: 'The OpenAPI document at GET /docs/json and its viewer at GET /docs; false turns both off' })
})

export type Settings = Static<typeof SettingsSchema>

/**
 * An insertMany costs the service's CPU about a millisecond, whether it carries one message or two
 * hundred (the driver's layers, run too seldom to be optimized), so under a stream batches start
 * 50 ms apart; with ACK_AFTER_STORE the sender's answer waits for the write, so 5 ms.
 */
export function writeBatchWindowMsOf (settings: Pick<Settings, 'writeBatchWindowMs' | 'ackAfterStore'>): number {
  return settings.writeBatchWindowMs ?? (settings.ackAfterStore ? WRITE_BATCH_WINDOW_MS.ackAfterStore : WRITE_BATCH_WINDOW_MS.default)
}
export type SettingName = keyof Settings

export function envName (setting: string): string {
  return setting.replace(/[A-Z]/g, (letter) => `_${letter}`).toUpperCase()
}

/** Plugin options over environment variables, still unvalidated. */
export function rawSettings (options: Partial<Record<string, unknown>>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const raw: Record<string, unknown> = {}
  for (const name of Object.keys(SettingsSchema.properties)) {
    const value = options[name] ?? env[envName(name)]
    if (value !== undefined && value !== '') raw[name] = value
  }
  return raw
}
