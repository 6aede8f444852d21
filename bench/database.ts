// The benchmarks' MongoDB: an external jongodb or the null sink (bench/null-mongo.ts) pinned to
// a core, or BENCH_MONGO_URI; and a janitor that keeps the messages collection small.
import { join } from 'node:path'
import type { Collection } from 'mongodb'
import { jongodbBinary } from '../lib/storage/embedded-mongo.js'
import { pinned, startProcess } from './processes.js'

export type Sink = 'jongodb' | 'null'

/**
 * BENCH_MONGO_URI, or the sink started on the core (BENCH_MONGO_CORE overrides it) and killed on
 * exit: jongodb, or the null sink, which acknowledges writes without storing them.
 */
export async function benchMongoUri (core: number, sink: Sink = 'jongodb'): Promise<string> {
  if (process.env.BENCH_MONGO_URI) return process.env.BENCH_MONGO_URI
  const onCore = Number(process.env.BENCH_MONGO_CORE ?? core)
  const started = sink === 'null'
    ? await startProcess(pinned(onCore, process.execPath, [join(import.meta.dirname, 'null-mongo.js')]), { PORT: '0' }, /^listening (\d+)/)
    : await startProcess(pinned(onCore, jongodbBinary(), ['--host=127.0.0.1', '--port=0']), {}, /JONGODB_URI=mongodb:\/\/127\.0\.0\.1:(\d+)/)
  process.on('exit', () => started.child.kill('SIGKILL'))
  return `mongodb://127.0.0.1:${started.port}/?directConnection=true`
}

/**
 * jongodb's insert cost grows with a collection's live documents, so the bench keeps the
 * collection small by deleting what the service stored, counting it as stored.
 */
export function janitor (collection: Collection): { stop (): Promise<number> } {
  let removed = 0
  let running = true
  const loop = (async () => {
    // eslint-disable-next-line no-unmodified-loop-condition -- stop() clears it while the loop awaits
    while (running) {
      removed += (await collection.deleteMany({})).deletedCount
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  })()
  return {
    async stop () {
      running = false
      await loop
      return removed + (await collection.deleteMany({})).deletedCount
    }
  }
}
