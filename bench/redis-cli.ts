// What the bench and the tests both need to run local Redis servers and a Redis Cluster of them:
// a free port, whether this machine has the tools, and `redis-cli --cluster create`.
import { spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { createServer, type AddressInfo } from 'node:net'

/** A free TCP port on 127.0.0.1, with nothing listening on it. */
export async function freePort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Whether redis-server is on PATH: the bench leaves out its Redis parts without it, the tests say how to install it. */
export function hasRedisServer (): boolean {
  return spawnSync('redis-server', ['--version']).error === undefined
}

/** Why this machine cannot run a Redis Cluster with sharded pub/sub (which needs Redis 7), or undefined when it can. */
export function whyNoRedisCluster (): string | undefined {
  const server = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
  if (server.error !== undefined) return 'redis-server is not on PATH'
  if (spawnSync('redis-cli', ['--version']).error !== undefined) return 'redis-cli is not on PATH'
  const major = Number(/v=(\d+)\./.exec(server.stdout)?.[1])
  return major >= 7 ? undefined : 'sharded pub/sub needs redis-server 7 or later'
}

/** Joins running `--cluster-enabled yes` nodes into one cluster of masters, the slots spread evenly. */
export function createRedisCluster (addresses: readonly string[]): void {
  const create = spawnSync('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8' })
  if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`)
}
