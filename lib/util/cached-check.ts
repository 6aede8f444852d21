/**
 * Wraps a check so that calls within `maxAgeMs` of the last one share its answer, and
 * concurrent calls share one run: a probe polled often (or by anyone, unauthenticated) costs
 * at most one check per period.
 */
export function cachedFor<T> (maxAgeMs: number, check: () => Promise<T>): () => Promise<T> {
  let last: { at: number, result: Promise<T> } | undefined
  return () => {
    const now = Date.now()
    if (last === undefined || now - last.at >= maxAgeMs) last = { at: now, result: check() }
    return last.result
  }
}
