// Presence and typing across three instances, shared by the one-Redis and the Redis Cluster tests.
import type { Test } from 'tap'
import { bearer, Client, eventually, get, sleep, wsUrlOf, type ServerProcess } from './helper.js'

export const SETTINGS = { COUNTS_TTL_MS: '1500', PRESENCE_LEAVE_DELAY_MS: '300', TYPING_INTERVAL_MS: '500' }
export const CRASH_BOUND_MS = 15_000
export const member = (id: string) => bearer({ id, groups: ['team'] })
const presenceUrl = (server: ServerProcess) => `${server.base}/api/channels/team/presence`
export const usersOn = async (server: ServerProcess) => (await get(presenceUrl(server), member('observer'))).body.users as string[]
export const open = (server: ServerProcess, id: string, withPresence = true) =>
  Client.open(`${wsUrlOf(server)}${withPresence ? '&presence=true' : ''}`, { headers: member(id) })
export const changes = (client: Client) => client.frames.filter((frame) => frame.join ?? frame.leave)

/** Instances connect to Redis after they listen: wait until every one is up, and its signals subscription with it. */
export async function redisUp (servers: ServerProcess[]): Promise<void> {
  await Promise.all(servers.map((server) => eventually(() => get(`${server.base}/ready`), (response) => response.body.redis === 'up', 20_000)))
  await sleep(300)
}

export async function presenceAndTyping (t: Test, servers: ServerProcess[]): Promise<void> {
  const [a, b, c] = servers as [ServerProcess, ServerProcess, ServerProcess]
  const ann = await open(a, 'ann')
  t.same(await ann.receive(1), [{ presence: { channel: 'team', users: ['ann'] } }])
  const ben = await open(b, 'ben')
  await eventually(() => usersOn(c), (users) => users.length === 2)
  const cat = await open(c, 'cat')
  t.same((await cat.receive(1))[0], { presence: { channel: 'team', users: ['ann', 'ben', 'cat'] } }, 'the presence frame lists users of every instance')
  for (const server of servers) {
    t.same(await eventually(() => usersOn(server), (users) => users.length === 3), ['ann', 'ben', 'cat'], 'the endpoint agrees on every instance')
  }
  await eventually(() => changes(ann).length, (count) => count === 2)
  t.same(changes(ann).map((frame) => frame.join.user), ['ben', 'cat'], 'joins from the other instances')

  const benAgain = await open(c, 'ben', false)
  await sleep(500)
  t.same(changes(ann).length, 2, 'a second socket of ben, elsewhere, sends no join')
  await ben.close()
  await sleep(800)
  t.same(changes(ann).length, 2, 'no leave while ben has a socket on another instance')
  await benAgain.close()
  await eventually(() => changes(ann).length, (count) => count === 3)
  await eventually(() => changes(cat).length, (count) => count === 1)
  t.same(changes(ann)[2], { leave: { channel: 'team', user: 'ben' } }, 'leave on one instance')
  t.same(changes(cat)[0], { leave: { channel: 'team', user: 'ben' } }, 'and on another')
  t.same(await eventually(() => usersOn(b), (users) => users.length === 2), ['ann', 'cat'])

  // Typing: from a to the other users on every instance, not to ann's other socket.
  const annElsewhere = await open(b, 'ann', false)
  const dan = await open(b, 'dan', false)
  const typing = { typing: { channel: 'team', user: 'ann' } }
  ann.send({ typing: { channel: 'team' } })
  await eventually(() => dan.frames.length, (count) => count === 1)
  await eventually(() => cat.frames.filter((frame) => frame.typing).length, (count) => count === 1)
  t.same(dan.frames, [typing], 'another instance relays it')
  ann.send({ typing: { channel: 'team' } })
  annElsewhere.send({ typing: { channel: 'team' } })
  await sleep(300)
  t.same(dan.frames, [typing], 'throttled per user and channel, whichever socket sends')
  t.same([...annElsewhere.frames, ...ann.frames].filter((frame) => frame.typing), [], 'the sender\'s own sockets get none')
  t.same((await get(`${a.base}/api/messages/team`, member('ann'))).body, [], 'never stored')
}
