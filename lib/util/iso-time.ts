/** The last second formatted, as toISOString writes it up to the milliseconds ("2026-11-26T09:20:31."). */
let cachedSecond = Number.NaN
let cachedPrefix = ''
/** "000Z" to "999Z": the milliseconds and the zone, as toISOString ends. */
const MILLISECONDS = Array.from({ length: 1000 }, (_, ms) => `${String(ms).padStart(3, '0')}Z`)

/**
 * What `date.toISOString()` returns. V8 formats every call through a printf; a message's
 * timestamp is written for every message, and messages mostly arrive within the same second
 * as the one before, so the date and time up to the second are formatted once per second.
 */
export function isoTime (date: Date): string {
  const ms = date.getTime()
  const second = Math.floor(ms / 1000)
  if (second !== cachedSecond) {
    // Throws for an invalid date, as toISOString does.
    cachedPrefix = date.toISOString().slice(0, -4)
    cachedSecond = second
  }
  return cachedPrefix + MILLISECONDS[ms - second * 1000]!
}
