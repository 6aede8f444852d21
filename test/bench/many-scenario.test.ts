import t from 'tap'
import { channelsOf, CONTENT, digits, markedContent, membersOf, slotOf } from '../../bench/many-scenario.js'

t.test('a socket gets K distinct channels, and slotOf finds each of them and nothing else', async (t) => {
  for (const [perSocket, channels] of [[20, 500], [10, 100], [3, 7], [7, 7], [1, 1]] as const) {
    const wrong: string[] = []
    for (let socket = 0; socket < 2 * channels + 3; socket++) {
      const mine = channelsOf(socket, perSocket, channels)
      if (new Set(mine).size !== perSocket) wrong.push(`socket ${socket}: ${mine.join(',')}`)
      for (let channel = 0; channel < channels; channel++) {
        if (slotOf(socket, channel, perSocket, channels) !== mine.indexOf(channel)) wrong.push(`socket ${socket}, channel ${channel}`)
      }
    }
    t.same(wrong, [], `${perSocket} of ${channels}`)
  }
})

t.test('over a multiple of C sockets every channel has N·K/C members', async (t) => {
  t.same(new Set(membersOf(2000, 20, 500)), new Set([80]))
  t.same(new Set(membersOf(400, 10, 100)), new Set([40]))
  t.throws(() => channelsOf(0, 5, 4))
})

t.test('the fields of marked content are read back at their offsets', async (t) => {
  const content = Buffer.from(markedContent(1234567890123, 42, 499, 123456789, 64))
  t.equal(content.length, 64)
  t.equal(digits(content, CONTENT.time, 13), 1234567890123)
  t.equal(digits(content, CONTENT.publisher, 5), 42)
  t.equal(digits(content, CONTENT.channel, 5), 499)
  t.equal(digits(content, CONTENT.count, 9), 123456789)
  t.equal(markedContent(1, 2, 3, 4, 0).length, CONTENT.length)
})
