// Presence and typing across three instances on a Redis Cluster (sharded pub/sub for messages,
// plain pub/sub for signals).
import t from 'tap'
import { startInstances, startMongo } from './helper.js'
import { startRedisCluster } from './redis-cluster.js'
import { presenceAndTyping, redisUp, SETTINGS } from './presence-scenario.js'

t.test('Redis Cluster: presence, join and leave, typing', async (t) => {
  const directory = t.testdir()
  const cluster = await startRedisCluster(t, directory)
  const mongo = await startMongo(t)
  const servers = await startInstances(t, directory, mongo, { REDIS_CLUSTER_NODES: cluster.seeds, ...SETTINGS })
  await redisUp(servers)
  await presenceAndTyping(t, servers)
})
