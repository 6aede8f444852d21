import t from 'tap'
import { textFrameOf } from '../../../lib/delivery/frame-bytes.js'
import { Hub, type Subscriber } from '../../../lib/delivery/hub.js'
import { LocalPresence } from '../../../lib/delivery/presence-local.js'
import { PresenceListeners } from '../../../lib/delivery/presence-listeners.js'
import { PresenceTracker } from '../../../lib/delivery/presence-tracker.js'
import { LocalSignals } from '../../../lib/delivery/signals.js'
import { readClientFrame } from '../../../lib/protocol/frames.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

t.test('tracker: arrives on the first socket, departs after the delay once the last is gone, a quick return makes no change', async (t) => {
  const events: string[] = []
  const tracker = new PresenceTracker(50, {
    arrived: (channel, user) => events.push(`+${channel}/${user}`),
    departed: (channel, user) => events.push(`-${channel}/${user}`)
  })
  tracker.add('g1', 'ann')
  tracker.add('g1', 'ann')
  tracker.add('g2', 'ann')
  t.same(events, ['+g1/ann', '+g2/ann'])
  t.equal(tracker.distinctUsers, 1)
  tracker.remove('g1', 'ann')
  tracker.remove('g1', 'ann')
  tracker.add('g1', 'ann')
  tracker.remove('g1', 'ann')
  t.ok(tracker.has('g1', 'ann'), 'present during the delay')
  await sleep(100)
  t.same(events, ['+g1/ann', '+g2/ann', '-g1/ann'])
  t.same([...tracker.entries()], [['g2', 'ann']])
  tracker.remove('g1', 'ann')
  t.same(events.length, 3, 'a remove without an add is ignored')
})

t.test('listeners: the presence frame first, changes heard meanwhile after it, none of its own user, none above the cap', async (t) => {
  const signals = new LocalSignals()
  const presence = new LocalPresence({ signals, leaveDelayMs: 0 })
  const listeners = new PresenceListeners({ presence, snapshotSize: 2, maxUsers: 3, onError: (error) => t.error(error) })
  const sent: string[] = []
  const listener = { user: 'ann', send: (text: string) => sent.push(text) }
  await presence.add('g1', 'ann')
  await presence.add('g1', 'ben')
  await presence.add('g1', 'cat')
  listeners.listen('g1', listener, Promise.resolve())
  listeners.joined('g1', 'dan')
  listeners.joined('g1', 'ann')
  await sleep(10)
  t.same(sent.map((text) => JSON.parse(text)), [
    { presence: { channel: 'g1', users: ['ann', 'ben'] } },
    { join: { channel: 'g1', user: 'dan' } }
  ])
  listeners.left('g1', 'ann')
  t.equal(sent.length, 2, 'its own user\'s changes are not sent')
  listeners.joined('g1', 'eve')
  listeners.joined('g1', 'fay')
  t.same(sent.slice(2).map((text) => JSON.parse(text)), [{ join: { channel: 'g1', user: 'eve' } }], 'none once over 3 present users')
  listeners.left('g1', 'fay')
  t.same(JSON.parse(sent.at(-1)!), { leave: { channel: 'g1', user: 'fay' } }, 'sent again at 3 or fewer')
  listeners.unlisten('g1', listener)
  listeners.joined('g1', 'gus')
  t.equal(sent.length, 4, 'nothing after unlisten')
})

t.test('hub.relay skips the excepted user; typing frames are read as such, other frames are left alone', async (t) => {
  const hub = new Hub()
  const got: Record<string, string[]> = { ann: [], ben: [] }
  const subscriber = (user: string): Subscriber => ({
    user,
    relay: (frame) => got[user]!.push(frame.subarray(2).toString()),
    deliver () {}
  })
  hub.join('g1', subscriber('ann'))
  hub.join('g1', subscriber('ben'))
  t.equal(hub.relay('g1', textFrameOf('hi'), 'ann'), 1)
  t.same(got, { ann: [], ben: ['hi'] })

  t.same(readClientFrame(Buffer.from('{"typing":{"channel":"g1"}}'), false), { kind: 'typing', channel: 'g1' })
  t.match(readClientFrame(Buffer.from('{"content":"typing"}'), false), { kind: 'message', content: 'typing' })
  t.throws(() => readClientFrame(Buffer.from('{"typing":{"channel":"../x"}}'), false), { code: 'CHAT_INVALID_CHANNEL', channel: '../x' })
  t.throws(() => readClientFrame(Buffer.from('{"typing":"g1"}'), false), { code: 'CHAT_INVALID_FRAME' })
})
