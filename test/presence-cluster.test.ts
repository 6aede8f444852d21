// Presence and typing across three instances (server.ts processes) sharing one Redis: the
// endpoint and the frames agree everywhere, join once, leave on every instance, a killed
// instance's users leave within 15 s, Redis down and back, typing reaches the other users only.
import t from 'tap'
import { eventually, get, startCluster, type ServerProcess } from './helper.js'
import { changes, CRASH_BOUND_MS, open, presenceAndTyping, redisUp, SETTINGS, usersOn } from './presence-scenario.js'

t.test('three instances on one Redis: presence, join and leave, typing', async (t) => {
  const { servers } = await startCluster(t, SETTINGS)
  await redisUp(servers)
  await presenceAndTyping(t, servers)
})

t.test('kill -9 of an instance: its users leave presence within 15 s, with leave frames elsewhere', async (t) => {
  const { servers } = await startCluster(t, SETTINGS)
  await redisUp(servers)
  const [a, b, c] = servers as [ServerProcess, ServerProcess, ServerProcess]
  const watcher = await open(a, 'ann')
  await open(c, 'cat')
  await open(c, 'ben')
  await open(b, 'ben')
  t.same(await eventually(() => usersOn(a), (users) => users.length === 3), ['ann', 'ben', 'cat'])
  await eventually(() => changes(watcher).length, (count) => count === 2)

  const killed = Date.now()
  c.signal('SIGKILL')
  await eventually(() => usersOn(a), (users) => users.length === 2, CRASH_BOUND_MS)
  const goneAfter = Date.now() - killed
  t.ok(goneAfter < CRASH_BOUND_MS, `the killed instance's users left presence after ${goneAfter} ms`)
  t.same(await usersOn(b), ['ann', 'ben'], 'ben still has a socket on b')
  await eventually(() => changes(watcher).length, (count) => count === 3, 2_000)
  t.same(changes(watcher)[2], { leave: { channel: 'team', user: 'cat' } }, 'a leave for cat only')
})

t.test('Redis down: each instance serves its own presence; Redis back: every instance sees everyone again', async (t) => {
  const { servers, redis } = await startCluster(t, SETTINGS)
  await redisUp(servers)
  const [a, b] = servers as [ServerProcess, ServerProcess]
  const ann = await open(a, 'ann')
  await ann.receive(1)
  await redis.stop()
  await eventually(() => get(`${a.base}/ready`), (response) => response.body.redis === 'down')
  await open(b, 'ben')
  await open(a, 'cat')
  t.same(await eventually(() => usersOn(a), (users) => users.includes('cat')), ['ann', 'cat'], 'the local users while Redis is down')
  await eventually(() => changes(ann).length, (count) => count === 1)
  t.same(changes(ann), [{ join: { channel: 'team', user: 'cat' } }], 'a local join is still heard')

  await redis.start()
  for (const server of servers) {
    t.same(await eventually(() => usersOn(server), (users) => users.length === 3, 15_000), ['ann', 'ben', 'cat'], 'caught up once Redis is back')
  }
})
