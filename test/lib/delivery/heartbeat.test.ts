import t from 'tap'
import { Heartbeat, type Beating } from '../../../lib/delivery/heartbeat.js'

function peer (heardAt: number): Beating & { pings: number, dropped: boolean } {
  return {
    heardAt,
    pingedAt: 0,
    pings: 0,
    dropped: false,
    ping () { this.pings++ },
    drop () { this.dropped = true }
  }
}

t.test('a tick pings who is due, drops who is silent past interval + timeout, and leaves the rest alone', async (t) => {
  let timeouts = 0
  const heartbeat = new Heartbeat({ intervalMs: 1_000, timeoutMs: 500, onTimeout: () => timeouts++ })
  t.teardown(() => heartbeat.stop())
  const fresh = peer(10_000)
  const due = peer(10_000)
  const silent = peer(8_000)
  for (const connection of [fresh, due, silent]) heartbeat.add(connection)
  fresh.pingedAt = 9_500
  due.pingedAt = 9_000
  heartbeat.tick(10_000)
  t.same([fresh.pings, due.pings, silent.pings], [0, 1, 0])
  t.same([fresh.dropped, due.dropped, silent.dropped], [false, false, true])
  t.equal(timeouts, 1)
  heartbeat.tick(10_100)
  t.equal(due.pings, 1, 'not pinged again before the interval')
  heartbeat.tick(20_000)
  t.ok(fresh.dropped && due.dropped, 'silent ones go once past interval + timeout')
  t.equal(timeouts, 3)
  heartbeat.tick(40_000)
  t.equal(timeouts, 3, 'a dropped connection is forgotten')
})
