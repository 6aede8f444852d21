// The Redis of a bench: one redis-server, or a three-master Redis Cluster, on the load core
// beside the generator, fresh for each part, with nothing written to disk.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { LOAD_CORE, pinned } from './processes.js'
import { createRedisCluster, freePort } from './redis-cli.js'

export const CLUSTER_SIZE = 3
const CLUSTER_OK_TIMEOUT_MS = 20_000

export interface BenchRedis {
  /** The service's setting for it: REDIS_URL, or REDIS_CLUSTER_NODES. */
  env: Record<string, string>
  /** The redis-server processes, to read their CPU. */
  pids: number[]
  stop (): void
}

export async function startRedis (): Promise<BenchRedis> {
  const port = await freePort()
  const pid = redisServer(port, [])
  await sleep(500)
  return { env: { REDIS_URL: `redis://127.0.0.1:${port}` }, pids: [pid], stop: () => process.kill(pid, 'SIGKILL') }
}

/** Three masters, no replicas, the slots spread by `redis-cli --cluster create`. */
export async function startRedisCluster (): Promise<BenchRedis> {
  const directory = mkdtempSync(join(tmpdir(), 'bench-redis-cluster-'))
  const ports = await Promise.all(Array.from({ length: CLUSTER_SIZE }, freePort))
  const addresses = ports.map((port) => `127.0.0.1:${port}`)
  const pids = ports.map((port) => redisServer(port, [
    '--cluster-enabled', 'yes', '--cluster-config-file', join(directory, `nodes-${port}.conf`), '--dir', directory
  ]))
  const stop = (): void => {
    for (const pid of pids) process.kill(pid, 'SIGKILL')
    rmSync(directory, { recursive: true, force: true })
  }
  try {
    await sleep(500)
    createRedisCluster(addresses)
    await Promise.all(ports.map(clusterOk))
  } catch (error) {
    stop()
    throw error
  }
  return { env: { REDIS_CLUSTER_NODES: addresses.join(',') }, pids, stop }
}

function redisServer (port: number, args: string[]): number {
  const child = spawn(...pinned(LOAD_CORE, 'redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1', ...args]), { stdio: 'ignore' })
  return child.pid!
}

async function clusterOk (port: number): Promise<void> {
  const deadline = Date.now() + CLUSTER_OK_TIMEOUT_MS
  while (!/cluster_state:ok/.test(spawnSync('redis-cli', ['-p', String(port), 'cluster', 'info'], { encoding: 'utf8' }).stdout ?? '')) {
    if (Date.now() > deadline) throw new Error(`the Redis Cluster node on port ${port} did not reach cluster_state:ok`)
    await sleep(100)
  }
}
