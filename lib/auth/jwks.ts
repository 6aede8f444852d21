import { createLocalJWKSet, errors, type JWSHeaderParameters } from 'jose'

/** The key of a token could not be looked up because the key source failed, not because of the token. */
export class KeySourceUnavailable extends Error {}

export interface JwksOptions {
  url: string
  /** A token with an unknown `kid` fetches the set again at most once per this. */
  cooldownMs: number
  /** Told about every fetch that failed; the keys fetched before stay in use. */
  onFetchError?: (error: Error) => void
}

const FETCH_TIMEOUT_MS = 5_000
/** Keys older than this are fetched again in the background, so a key removed from the set stops working. */
const MAX_AGE_MS = 10 * 60_000
/** With no keys at all, a failed fetch is tried again this soon, within the Retry-After of the 503s meanwhile. */
const RETRY_WITHOUT_KEYS_MS = 2_000

type LocalKeySet = ReturnType<typeof createLocalJWKSet>

/**
 * An identity provider's JSON Web Key Set. jose selects the key (by `kid`, and by key type and
 * curve for the token's `alg`); this class decides when to fetch, so that neither a flood of
 * unknown `kid`s nor an unreachable provider turns into a flood of fetches: one fetch at a
 * time, at most one per cooldown for unknown `kid`s. A set that cannot be fetched again keeps
 * the keys it had.
 */
export class JwksKeySource {
  readonly #options: JwksOptions
  #keys: LocalKeySet | undefined
  #fetchedAt = -Infinity
  #attemptedAt = -Infinity
  #lastError: Error | undefined
  #pending: Promise<void> | undefined

  constructor (options: JwksOptions) {
    this.#options = options
  }

  /** Starts fetching without waiting: start-up never waits for the identity provider. */
  prefetch (): void {
    void this.#fetchUnlessRecent(0)
  }

  /** The public key for a token's header. */
  async key (header: JWSHeaderParameters): Promise<CryptoKey> {
    if (this.#keys === undefined) await this.#fetchUnlessRecent(RETRY_WITHOUT_KEYS_MS)
    else if (Date.now() - this.#fetchedAt > MAX_AGE_MS) void this.#fetchUnlessRecent(this.#options.cooldownMs)
    const keys = this.#keys
    if (keys === undefined) throw this.#unavailable()
    try {
      return await keys(header)
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error
      // Perhaps a key the provider added since: look again, unless the set was fetched too recently.
      await this.#fetchUnlessRecent(this.#options.cooldownMs)
      if (this.#keys !== keys) return await this.#keys!(header)
      // The last fetch failed, so the key may well exist: the token cannot be checked now.
      if (this.#lastError !== undefined) throw this.#unavailable()
      throw error
    }
  }

  /** Said to clients: the URL and the cause go to the log (onFetchError), not to them. */
  #unavailable (): KeySourceUnavailable {
    return new KeySourceUnavailable("the identity provider's key set cannot be fetched")
  }

  /** Fetches the set, joining a fetch under way, unless the last attempt was less than `intervalMs` ago. */
  #fetchUnlessRecent (intervalMs: number): Promise<void> {
    if (this.#pending !== undefined) return this.#pending
    if (Date.now() - this.#attemptedAt < intervalMs) return Promise.resolve()
    this.#attemptedAt = Date.now()
    this.#pending = fetchKeySet(this.#options.url).then((keys) => {
      this.#keys = keys
      this.#fetchedAt = Date.now()
      this.#lastError = undefined
    }, (error: Error) => {
      this.#lastError = error
      this.#options.onFetchError?.(error)
    }).finally(() => {
      this.#pending = undefined
    })
    return this.#pending
  }
}

async function fetchKeySet (url: string): Promise<LocalKeySet> {
  const response = await fetch(url, {
    headers: { accept: 'application/json, application/jwk-set+json' },
    redirect: 'manual',
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS)
  })
  if (response.status !== 200) throw new Error(`HTTP ${response.status}`)
  // createLocalJWKSet refuses anything that is not a key set.
  return createLocalJWKSet(await response.json())
}
