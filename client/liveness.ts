export interface LivenessOptions {
  /** The service pings every this often (its WS_PING_INTERVAL_MS). Default 25000. */
  intervalMs?: number
  /** How long an answer may take (its WS_PONG_TIMEOUT_MS). Default 10000. */
  timeoutMs?: number
}

/**
 * Finds a dead link from the client's side. Browsers answer the service's pings without showing
 * them to scripts, so silence is all a page can see: when nothing has arrived for interval +
 * timeout, it asks with a ping frame, and if nothing arrives within the timeout the link is dead.
 */
export class Liveness {
  readonly #intervalMs: number
  readonly #timeoutMs: number
  #heardAt = 0
  #askedAt: number | undefined
  #timer: ReturnType<typeof setInterval> | undefined

  constructor (options: LivenessOptions = {}) {
    this.#intervalMs = options.intervalMs ?? 25_000
    this.#timeoutMs = options.timeoutMs ?? 10_000
  }

  /** Starts watching a new socket: `ask` sends a ping frame, `dead` gives the socket up. */
  watch (ask: () => void, dead: () => void): void {
    this.stop()
    this.heard()
    this.#timer = setInterval(() => {
      const now = Date.now()
      if (this.#askedAt !== undefined) {
        if (now - this.#askedAt >= this.#timeoutMs) {
          this.stop()
          dead()
        }
      } else if (now - this.#heardAt >= this.#intervalMs + this.#timeoutMs) {
        this.#askedAt = now
        ask()
      }
    }, Math.max(Math.min(this.#intervalMs, this.#timeoutMs) / 4, 10))
  }

  /** Anything arrived. */
  heard (): void {
    this.#heardAt = Date.now()
    this.#askedAt = undefined
  }

  stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#askedAt = undefined
  }
}
