import { connect, createServer, type Socket } from 'node:net'
import { Redis } from 'ioredis'
import t from 'tap'
import { bearer, buildService, Client, eventually, post, startRedis, token } from './helper.js'

/**
 * A proxy in front of Redis that holds every SUBSCRIBE for `delayMs` on its way to Redis: a
 * subscription that takes a while, as it does across a network or on a busy Redis.
 */
async function slowSubscribeProxy (target: string, delayMs: number): Promise<{ url: string, close (): void }> {
  const { hostname, port } = new URL(target)
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = connect(Number(port), hostname)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => { client.destroy(); upstream.destroy() })
    }
    // Chunks keep their order: once one is held, the ones after it wait behind it.
    let queue = Promise.resolve()
    client.on('data', (chunk: Buffer) => {
      const delay = /SUBSCRIBE/i.test(chunk.toString('latin1')) ? delayMs : 0
      queue = queue.then(() => new Promise((resolve) => setTimeout(resolve, delay))).then(() => { upstream.write(chunk) })
    })
    upstream.on('data', (chunk: Buffer) => client.write(chunk))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `redis://127.0.0.1:${(server.address() as { port: number }).port}`,
    close () {
      for (const socket of sockets) socket.destroy()
      server.close()
    }
  }
}

t.test('with Redis, a socket opens only once its channel is live: a message sent right after it opens reaches it', async (t) => {
  const redis = await startRedis(t)
  const proxy = await slowSubscribeProxy(redis.url, 500)
  t.teardown(() => proxy.close())
  const service = await buildService(t, { redisUrl: proxy.url })
  const direct = new Redis(redis.url)
  t.teardown(() => direct.disconnect())

  for (const channel of ['fresh-1', 'fresh-2', 'fresh-3']) {
    const client = await Client.open(`${service.ws}?channel=${channel}`, { headers: bearer({ id: channel, groups: [] }) })
    const reply = await post(`${service.base}/api/messages/${channel}`, { content: `right after open in ${channel}` }, bearer({ id: channel, groups: [] }))
    t.equal(reply.status, 201)
    const [frame] = await client.receive(1)
    t.same({ id: frame.id, content: frame.content }, { id: reply.body.id, content: `right after open in ${channel}` }, `${channel}: the first message after the open is delivered`)
    await client.close()
    const [, subscribers] = await eventually(() => direct.pubsub('NUMSUB', `chat:{${channel}}:messages`) as Promise<[string, number]>, ([, count]) => Number(count) === 0)
    t.equal(Number(subscribers), 0, `${channel}: unsubscribed once its last client left`)
  }

  // A refused upgrade holds nothing: the channel is not left subscribed.
  const refused = await new Promise<number>((resolve) => {
    const socket = new Client(`${service.ws}?channel=g`, { headers: { authorization: `Bearer ${token({ id: 'mallory', groups: [] })}` } }).socket
    socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0))
    socket.on('error', () => {})
  })
  t.equal(refused, 403)
  t.same(await direct.pubsub('CHANNELS', 'chat:{g}:*'), [], 'no subscription for a refused upgrade')
})
