import type { Registry } from 'prom-client'
import type { Authorize } from '../auth/access.js'
import type { Settings } from './settings.js'

/** What a host passes to `register(chat, options)`: any setting, plus what only code can give. */
export interface ChatOptions extends Partial<Settings> {
  /** Fastify's own registration options (prefix, logLevel, ...) pass through. */
  [option: string]: unknown
  /** Replaces the seed's access rule (id or group equals the channel) for REST and WebSocket alike. */
  authorize?: Authorize
  /** The host's prom-client registry: the chat metrics go there, so that one /metrics serves both. */
  metricsRegistry?: Registry
}
