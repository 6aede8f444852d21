/** How often one kind of failure is logged at most. */
const WARN_INTERVAL_MS = 5_000

export interface WarnLogger {
  warn (object: object, message: string): void
}

/** Logs each kind of failure (by message) at most every few seconds: an outage must not flood the log. */
export class ThrottledWarnings {
  readonly #log: WarnLogger
  readonly #intervalMs: number
  readonly #lastWarned = new Map<string, number>()

  constructor (log: WarnLogger, intervalMs = WARN_INTERVAL_MS) {
    this.#log = log
    this.#intervalMs = intervalMs
  }

  warn (error: unknown, message: string): void {
    const now = Date.now()
    if (now - (this.#lastWarned.get(message) ?? Number.NEGATIVE_INFINITY) < this.#intervalMs) return
    this.#lastWarned.set(message, now)
    this.#log.warn({ err: error }, message)
  }
}
