/**
 * Exponential backoff with jitter: attempt n waits between half and all of min·2^n ms, capped
 * at max, so clients dropped together by a restart do not all come back at the same moment.
 */
export function reconnectDelay (attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** attempt)
  return Math.round(ceiling / 2 + random() * ceiling / 2)
}
