import { Cluster, Redis, type ClusterNode } from 'ioredis'

/** One Redis (REDIS_URL) or a Redis Cluster (REDIS_CLUSTER_NODES): the same commands either way. */
export type RedisClient = Redis | Cluster

export interface RedisConnections {
  /** Ordering scripts and counts. */
  publisher: RedisClient
  /** Subscriptions only. */
  subscriber: RedisClient
  /**
   * Sharded pub/sub (SPUBLISH/SSUBSCRIBE): on a cluster, a plain PUBLISH goes to every node,
   * a shard channel only to the shard that owns its slot.
   */
  sharded: boolean
}

/** Fail fast rather than hold a message while Redis is away: the fan-out then delivers it locally. */
const COMMAND_TIMEOUT_MS = 2_000

/**
 * The publisher fails fast while Redis is away instead of queueing without bound (see `ready`);
 * the subscriber keeps its own queue so subscriptions made meanwhile are sent on reconnect.
 * Commands issued in the same tick go out as one pipeline.
 *
 * On a cluster, ioredis follows MOVED/ASK, refreshes the slot map, and reconnects each shard's
 * subscriber and re-subscribes its channels when the shard comes back. Two differences:
 * - the publisher keeps ioredis's offline queue: without it, a command sent while a node's
 *   connection is still opening is retried later through another node, behind commands sent
 *   after it, and the messages of one sender would leave out of order;
 * - the ordering script is not auto-pipelined: ioredis would group it by its first argument
 *   (the number of keys), not by its keys' slot, and fail the mixed-slot pipeline.
 */
export function redisConnections (settings: { redisUrl?: string | undefined, redisClusterNodes?: string | undefined }): RedisConnections | undefined {
  const { redisUrl, redisClusterNodes } = settings
  if (redisClusterNodes !== undefined) {
    const seeds = clusterSeeds(redisClusterNodes)
    return {
      publisher: new Cluster(seeds, { enableAutoPipelining: true, autoPipeliningIgnoredCommands: ['chatPublish'], redisOptions: { commandTimeout: COMMAND_TIMEOUT_MS } }),
      subscriber: new Cluster(seeds, { shardedSubscribers: true }),
      sharded: true
    }
  }
  if (redisUrl === undefined) return undefined
  return {
    publisher: new Redis(redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: COMMAND_TIMEOUT_MS, enableAutoPipelining: true }),
    subscriber: new Redis(redisUrl, { maxRetriesPerRequest: null }),
    sharded: false
  }
}

/** "host:port,host:port" (the settings schema has checked the shape); IPv6 hosts in brackets. */
export function clusterSeeds (list: string): ClusterNode[] {
  return list.split(',').map((seed) => {
    const trimmed = seed.trim()
    const colon = trimmed.lastIndexOf(':')
    return { host: trimmed.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(trimmed.slice(colon + 1)) }
  })
}

/** The client, if it is connected (a cluster: has its slot map); throws otherwise, so callers fail fast instead of queueing. */
export function ready<Client extends RedisClient> (client: Client): Client {
  if (client.status !== 'ready') throw new Error(`Redis is not connected (${client.status})`)
  return client
}
