import { setTimeout as sleep } from 'node:timers/promises'

/** What a load generator is told of its run: how it loads the server and for how long. */
export interface LoadShape {
  /** Closed loop: messages each publisher keeps in flight. */
  window?: number
  /** Open loop: messages per second over all publishers. */
  rate?: number
  durationMs: number
  warmupMs: number
  payloadBytes: number
  jwtSecret?: string
}

export interface MeasuredWindow {
  measuredSeconds: number
  /** Deliveries counted within the window. */
  deliveredInWindow: number
  /** The generator's own CPU within the window. */
  cpu: NodeJS.CpuUsage
}

/**
 * Waits out the warm-up, then counts deliveries and the generator's own CPU over the run's
 * window, telling the parent process (on stdout) when the window starts and ends; `measuring`
 * hears the same, for the latency histograms.
 */
export async function measureWindow (shape: Pick<LoadShape, 'warmupMs' | 'durationMs'>, delivered: () => number, measuring: (on: boolean) => void): Promise<MeasuredWindow> {
  await sleep(shape.warmupMs)
  measuring(true)
  console.log(JSON.stringify({ event: 'measure-start' }))
  const deliveredBefore = delivered()
  const cpuBefore = process.cpuUsage()
  const measureStart = performance.now()
  await sleep(shape.durationMs)
  const measuredSeconds = (performance.now() - measureStart) / 1000
  const deliveredInWindow = delivered() - deliveredBefore
  const cpu = process.cpuUsage(cpuBefore)
  console.log(JSON.stringify({ event: 'measure-end' }))
  measuring(false)
  return { measuredSeconds, deliveredInWindow, cpu }
}
