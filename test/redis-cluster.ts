// A real three-master Redis Cluster for tests: three `redis-server --cluster-enabled yes` on free
// ports, each with its config file in the test's directory, joined by `redis-cli --cluster create`.
// A node can be killed and started again on the same port with the same config file.
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { createRedisCluster, whyNoRedisCluster } from '../bench/redis-cli.js'
import { eventually, freePort, onFreePort, redisServer } from './helper.js'

type Test = { teardown (fn: () => unknown): void }

export interface RedisClusterNode {
  port: number
  /** A plain connection to this node alone, for inspection (PUBSUB, INFO, CLUSTER ...). */
  inspect: Redis
  stop (): Promise<void>
  start (): Promise<void>
}

export interface RedisCluster {
  /** The seeds, as REDIS_CLUSTER_NODES takes them. */
  seeds: string
  nodes: RedisClusterNode[]
  /** The node that owns the slot of a key (or shard channel). */
  ownerOf (key: string): Promise<RedisClusterNode>
}

export async function startRedisCluster (t: Test, directory: string, size = 3): Promise<RedisCluster> {
  const missing = whyNoRedisCluster()
  if (missing !== undefined) throw new Error(`${missing}: install Redis 7 or later (Debian/Ubuntu: apt-get install redis-server redis-tools; macOS: brew install redis)`)
  const nodes = await Promise.all(Array.from({ length: size }, () => clusterNode(t, directory)))
  const addresses = nodes.map((node) => `127.0.0.1:${node.port}`)
  createRedisCluster(addresses)
  await Promise.all(nodes.map((node) => clusterOk(node.inspect)))
  return {
    seeds: addresses.join(','),
    nodes,
    async ownerOf (key) {
      const slot = await nodes[0]!.inspect.cluster('KEYSLOT', key)
      const ranges = await nodes[0]!.inspect.cluster('SLOTS')
      const [, , owner] = ranges.find(([from, to]) => slot >= from && slot <= to)!
      return nodes.find((node) => node.port === owner![1])!
    }
  }
}

/** Resolves once the node says cluster_state:ok (a restarted master waits a little before it rejoins). */
export async function clusterOk (node: Redis, timeoutMs = 20_000): Promise<void> {
  await eventually(() => node.cluster('INFO').catch(() => ''), (info) => /cluster_state:ok/.test(info), timeoutMs)
}

async function clusterNode (t: Test, directory: string): Promise<RedisClusterNode> {
  const { port, start, stop } = await onFreePort(async (port) => {
    const busPort = await freePort()
    // The node timeout leaves a restarted node time to come back before the others mark it failed
    // (and, with full coverage required, stop serving), even on a slow machine.
    const server = redisServer(port, [
      '--cluster-enabled', 'yes', '--cluster-port', String(busPort), '--cluster-node-timeout', '30000',
      '--cluster-config-file', join(directory, `nodes-${port}.conf`), '--dir', directory
    ])
    await server.start()
    return { port, ...server }
  })
  const inspect = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => 100 })
  inspect.on('error', () => {})
  t.teardown(async () => {
    inspect.disconnect()
    await stop()
  })
  return { port, inspect, stop, start }
}
