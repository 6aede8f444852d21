import { BatchedLookup } from '../util/batched-lookup.js'
import type { ChatMessage } from './message.js'
import { clientKey } from '../storage/message-store.js'
import { ThrottledWarnings, type WarnLogger } from '../operations/throttled-warnings.js'
import { within } from '../util/within.js'

export interface ClientIdLookupOptions {
  /** The stored messages of these (sender, clientId) pairs, by clientKey (MessageStore.findByClientIds). */
  find (pairs: Array<{ sender: string, clientId: string }>): Promise<ReadonlyMap<string, ChatMessage>>
  /** How long a query may take before its messages are taken as new. */
  timeoutMs: number
  /** Queries start at most this often, each with every lookup asked for meanwhile. */
  minIntervalMs: number
  log: WarnLogger
}

const NOTHING_FOUND: ReadonlyMap<string, ChatMessage> = new Map()

/**
 * The stored message of a sender's clientId, if any, found in batches. It never rejects: a query
 * that fails or takes too long finds nothing, and its messages are taken as new (MongoDB's
 * unique index still stores each once). The timeout and the failure are handled once per query,
 * not per message: a timer per message was a measurable part of its cost, and during an outage
 * a warning per message would flood the log.
 */
export function clientIdLookup (options: ClientIdLookupOptions): (sender: string, clientId: string) => Promise<ChatMessage | undefined> {
  const warnings = new ThrottledWarnings(options.log)
  const batches = new BatchedLookup(
    (pairs: Array<{ sender: string, clientId: string }>) =>
      within(options.find(pairs), options.timeoutMs, NOTHING_FOUND).catch((error: unknown) => {
        warnings.warn(error, 'looking up clientIds failed; their messages are taken as new (MongoDB still stores each once)')
        return NOTHING_FOUND
      }),
    ({ sender, clientId }) => clientKey(sender, clientId),
    { minIntervalMs: options.minIntervalMs }
  )
  return (sender, clientId) => batches.find({ sender, clientId })
}
