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

/** Why this machine cannot run a Redis Cluster with sharded pub/sub (which needs Redis 7), or undefined when it can. */
export function whyNoRedisCluster (): string | undefined {
  for (const tool of ['redis-server', 'redis-cli']) {
    if (spawnSync(tool, ['--version']).error !== undefined) return `${tool} is not on PATH`
  }
  const version = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout ?? ''
  const major = Number(/v=(\d+)\./.exec(version)?.[1])
  return major >= 7 ? undefined : 'sharded pub/sub needs redis-server 7 or later'
}

/** Joins running `--cluster-enabled yes` nodes into one cluster of masters, the slots spread evenly. */
export function createRedisCluster (addresses: readonly string[]): void {
  const create = spawnSync('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8' })
  if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`)
}
