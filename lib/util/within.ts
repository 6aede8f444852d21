/**
 * The promise's value, or `fallback` once `ms` pass without it. The timer is cleared as soon as
 * either comes, so waits on a hot path (a clientId lookup, an upgrade) leave no timers behind.
 */
export async function within<T, F> (promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<F>((resolve) => { timer = setTimeout(resolve, ms, fallback) })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
