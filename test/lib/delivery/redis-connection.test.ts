import t from 'tap'
import { clusterSeeds } from '../../../lib/delivery/redis-connection.js'

t.test('REDIS_CLUSTER_NODES seeds: host:port pairs, spaces around commas allowed, IPv6 hosts in brackets', async (t) => {
  t.same(clusterSeeds('redis-a:7000, 10.0.0.2:7001 ,[::1]:7002'), [
    { host: 'redis-a', port: 7000 },
    { host: '10.0.0.2', port: 7001 },
    { host: '::1', port: 7002 }
  ])
})
