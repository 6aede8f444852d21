/** What the heartbeat needs of a connection. */
export interface Beating {
  /** When anything last arrived from the peer. */
  readonly heardAt: number
  /** When the heartbeat last pinged it; set by the heartbeat. */
  pingedAt: number
  ping (): void
  /** Cuts the connection at once. */
  drop (): void
}

export interface HeartbeatOptions {
  /** Every connection gets a ping this often. */
  intervalMs: number
  /** A connection silent for intervalMs + timeoutMs is dropped. */
  timeoutMs: number
  onTimeout?: () => void
}

/**
 * One timer for every connection, not one per connection: a tick every quarter of the shorter
 * of the two periods pings whoever is due and drops whoever has been silent too long, so a ping
 * is at most a quarter period late and a dead peer found at most a quarter period late.
 */
export class Heartbeat<Connection extends Beating> {
  readonly #connections = new Set<Connection>()
  readonly #options: HeartbeatOptions
  #timer: NodeJS.Timeout | undefined

  constructor (options: HeartbeatOptions) {
    this.#options = options
  }

  add (connection: Connection): void {
    connection.pingedAt = Date.now()
    this.#connections.add(connection)
    if (this.#timer === undefined) {
      const { intervalMs, timeoutMs } = this.#options
      this.#timer = setInterval(() => this.tick(Date.now()), Math.max(Math.min(intervalMs, timeoutMs) / 4, 10))
      this.#timer.unref()
    }
  }

  remove (connection: Connection): void {
    this.#connections.delete(connection)
  }

  /** Pings whoever is due and drops whoever has been silent past the timeout. */
  tick (now: number): void {
    const { intervalMs, timeoutMs } = this.#options
    for (const connection of this.#connections) {
      if (now - connection.heardAt >= intervalMs + timeoutMs) {
        this.#connections.delete(connection)
        this.#options.onTimeout?.()
        connection.drop()
      } else if (now - connection.pingedAt >= intervalMs) {
        connection.pingedAt = now
        connection.ping()
      }
    }
  }

  stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#connections.clear()
  }
}
