export interface Signals {
  /** Sends a small ephemeral event to every instance, this one included. Never stored. */
  publish (channel: string, kind: string, body: string): void
  /** Hears every event of that kind, from any instance. */
  on (kind: string, listener: (channel: string, body: string) => void): void
}

export type SignalListener = (channel: string, body: string) => void

/** The listeners of each kind of signal on this instance. */
export class SignalListeners {
  readonly #byKind = new Map<string, SignalListener[]>()

  add (kind: string, listener: SignalListener): void {
    const listeners = this.#byKind.get(kind)
    if (listeners === undefined) this.#byKind.set(kind, [listener])
    else listeners.push(listener)
  }

  /** A listener that throws does not keep the event from the others. */
  emit (kind: string, channel: string, body: string, onError: (error: unknown) => void): void {
    for (const listener of this.#byKind.get(kind) ?? []) {
      try {
        listener(channel, body)
      } catch (error) {
        onError(error)
      }
    }
  }
}

/** One instance: every signal stays here. */
export class LocalSignals implements Signals {
  readonly #listeners = new SignalListeners()
  readonly #onError: (error: unknown) => void

  constructor (onError: (error: unknown) => void = () => {}) {
    this.#onError = onError
  }

  publish (channel: string, kind: string, body: string): void {
    this.#listeners.emit(kind, channel, body, this.#onError)
  }

  on (kind: string, listener: SignalListener): void {
    this.#listeners.add(kind, listener)
  }
}
