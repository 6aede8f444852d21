import t from 'tap'
import { isOriginAllowed, normalizeOrigin, originPolicy } from '../../../lib/auth/origins.js'

t.test('unset means same origin: an Origin is allowed only with the host the request went to', async (t) => {
  const policy = originPolicy(undefined)
  t.same(policy, { kind: 'same-origin' })
  t.ok(isOriginAllowed(policy, 'http://127.0.0.1:8080', '127.0.0.1:8080'))
  t.ok(isOriginAllowed(policy, 'https://chat.example.com', 'chat.example.com'))
  t.ok(isOriginAllowed(policy, 'https://chat.example.com', 'Chat.Example.com:443'), 'case and the default port do not matter')
  t.ok(isOriginAllowed(policy, 'http://[::1]:3000', '[::1]:3000'))
  t.notOk(isOriginAllowed(policy, 'http://127.0.0.1:8081', '127.0.0.1:8080'), 'another port is another origin')
  t.notOk(isOriginAllowed(policy, 'http://localhost:8080', '127.0.0.1:8080'))
  t.notOk(isOriginAllowed(policy, 'https://chat.example.com.evil.test', 'chat.example.com'))
  t.notOk(isOriginAllowed(policy, 'null', '127.0.0.1:8080'), 'opaque origins (sandboxed frames, files) are refused')
  t.notOk(isOriginAllowed(policy, 'chrome-extension://abc', 'abc'))
  t.notOk(isOriginAllowed(policy, 'http://127.0.0.1:8080', undefined))
})

t.test('a list allows exactly its origins, written as browsers send them', async (t) => {
  const policy = originPolicy(' https://App.Example.com:443 , http://localhost:3000,http://localhost:3000 ')
  t.same(policy, { kind: 'list', origins: ['https://app.example.com', 'http://localhost:3000'] })
  t.ok(isOriginAllowed(policy, 'https://app.example.com', 'api.example.com'))
  t.ok(isOriginAllowed(policy, 'http://localhost:3000', 'api.example.com'))
  t.notOk(isOriginAllowed(policy, 'http://app.example.com', 'api.example.com'), 'the scheme is part of the origin')
  t.notOk(isOriginAllowed(policy, 'https://api.example.com', 'api.example.com'), 'a list replaces the same-origin default')
})

t.test('* allows every origin', async (t) => {
  const policy = originPolicy('*')
  t.same(policy, { kind: 'any' })
  t.ok(isOriginAllowed(policy, 'https://anywhere.test', 'api.example.com'))
  t.ok(isOriginAllowed(policy, 'null', 'api.example.com'))
})

t.test('entries that are not origins are refused with the entry in the message', async (t) => {
  t.throws(() => originPolicy('https://a.test,*'), /cannot be combined/)
  t.throws(() => originPolicy(' , '), /comma-separated origins/)
  t.throws(() => originPolicy('a.test'), /"a\.test" is not an origin/)
  t.throws(() => normalizeOrigin('https://a.test/'), /without path or trailing slash/)
  t.throws(() => normalizeOrigin('https://a.test/app'), /without path/)
  t.throws(() => normalizeOrigin('https://user@a.test'), /not an origin/)
  t.throws(() => normalizeOrigin('ftp://a.test'), /http\(s\)/)
  t.equal(normalizeOrigin('http://A.test:80'), 'http://a.test')
})
