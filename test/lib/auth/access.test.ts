import t from 'tap'
import { canAccessChannel, historyScope, readClaims } from '../../../lib/auth/access.js'

const user = { id: 'user123', groups: ['group1', 'group2'] }

t.test('a user may access the channel named by their id or one of their groups', async (t) => {
  t.ok(canAccessChannel(user, 'user123'))
  t.ok(canAccessChannel(user, 'group1'))
  t.ok(canAccessChannel(user, 'group2'))
})

t.test('access is exact string equality: no substring, prefix or case folding', async (t) => {
  for (const channel of ['user12', 'user1234', 'USER123', 'group', 'group10', 'Group1', 'group1 ', '']) {
    t.notOk(canAccessChannel(user, channel), channel)
  }
})

t.test('history: everything with access, otherwise only the caller\'s own messages', async (t) => {
  t.same(historyScope(user, 'group1', true), { channel: 'group1' })
  t.same(historyScope(user, 'other', false), { channel: 'other', sender: 'user123' })
})

t.test('claims need a non-empty string id and an array of string groups', async (t) => {
  t.same(readClaims({ id: 'a', groups: [], other: 1 }), { id: 'a', groups: [] })
  t.match(readClaims({ id: '', groups: [] }), /id/)
  t.match(readClaims({ id: 7, groups: [] }), /id/)
  t.match(readClaims({ groups: [] }), /id/)
  t.match(readClaims({ id: 'a' }), /groups/)
  t.match(readClaims({ id: 'a', groups: 'g1' }), /groups/)
  t.match(readClaims({ id: 'a', groups: ['g1', 2] }), /groups/)
  t.match(readClaims(null), /object/)
  t.match(readClaims('x'), /object/)
})
