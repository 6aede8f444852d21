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
  /** Both connections are ready; on a cluster, every shard that owns slots also said it serves at the last probe. */
  isUp (): boolean
  close (): void
}

/** Fail fast rather than hold a message while Redis is away: the fan-out then delivers it locally. */
const COMMAND_TIMEOUT_MS = 2_000
/** How often each shard of a cluster is asked for its state, so that one shard down shows as Redis down. */
const SHARD_PROBE_INTERVAL_MS = 1_000

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
export function redisConnections (
  settings: { redisUrl?: string | undefined, redisClusterNodes?: string | undefined }
): RedisConnections | undefined {
  const { redisUrl, redisClusterNodes } = settings
  if (redisClusterNodes !== undefined) {
    const seeds = clusterSeeds(redisClusterNodes)
    const publisher = new Cluster(seeds, {
      enableAutoPipelining: true,
      autoPipeliningIgnoredCommands: ['chatPublish'],
      redisOptions: { commandTimeout: COMMAND_TIMEOUT_MS }
    })
    // Each shard's subscriber connects at start rather than at its first subscription, so a
    // client's channel is subscribed about as soon as with one Redis.
    const subscriber = new Cluster(seeds, { shardedSubscribers: true, redisOptions: { lazyConnect: false } })
    let shardsUp = false
    const check = (): void => {
      everyShardAnswers(publisher).then((up) => { shardsUp = up }, () => { shardsUp = false })
    }
    const probe = setInterval(check, SHARD_PROBE_INTERVAL_MS).unref()
    publisher.on('ready', check)
    return {
      publisher,
      subscriber,
      sharded: true,
      isUp: () => shardsUp && bothReady(publisher, subscriber),
      close () {
        clearInterval(probe)
        publisher.disconnect()
        subscriber.disconnect()
      }
    }
  }
  if (redisUrl === undefined) return undefined
  // The ordering script is sent once per turn already (see RedisFanout): a pipeline around it would only add to its cost.
  const publisher = new Redis(redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: COMMAND_TIMEOUT_MS,
    enableAutoPipelining: true,
    autoPipeliningIgnoredCommands: ['chatPublish']
  })
  const subscriber = new Redis(redisUrl, { maxRetriesPerRequest: null })
  return {
    publisher,
    subscriber,
    sharded: false,
    isUp: () => bothReady(publisher, subscriber),
    close () {
      publisher.disconnect()
      subscriber.disconnect()
    }
  }
}

/** The client, if it is connected (a cluster: has its slot map); throws otherwise, so callers fail fast instead of queueing. */
export function ready<Client extends RedisClient> (client: Client): Client {
  if (client.status !== 'ready') throw new Error(`Redis is not connected (${client.status})`)
  return client
}

/** "host:port,host:port" (the settings schema has checked the shape); IPv6 hosts in brackets. */
export function clusterSeeds (list: string): ClusterNode[] {
  return list.split(',').map((seed) => {
    const trimmed = seed.trim()
    const colon = trimmed.lastIndexOf(':')
    return { host: trimmed.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(trimmed.slice(colon + 1)) }
  })
}

const bothReady = (publisher: RedisClient, subscriber: RedisClient): boolean => publisher.status === 'ready' && subscriber.status === 'ready'

/**
 * Asks the master of every slot range whether it serves (a restarted master waits a few seconds
 * before it does). ioredis's own status stays "ready" while one shard is down: it only needs some
 * node to answer, and it reconnects to the others when they are used.
 */
async function everyShardAnswers (cluster: Cluster): Promise<boolean> {
  if (cluster.status !== 'ready') return false
  const owners = new Set(cluster.slots.flatMap((nodes) => nodes.slice(0, 1)))
  if (owners.size === 0) return false
  const masters = new Map(cluster.nodes('master').map((node) => [`${node.options.host}:${node.options.port}`, node]))
  const answers = await Promise.all([...owners].map((owner) => masters.get(owner)?.cluster('INFO').then((info) => /^cluster_state:ok/m.test(info), () => false) ?? false))
  return answers.every(Boolean)
}
