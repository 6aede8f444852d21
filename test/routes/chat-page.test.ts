// Where the chat page is served: standalone at / unless CHAT_PAGE=false; mounted only when the option asks.
import t from 'tap'
import { join } from 'node:path'
import { buildService, get, startMongo, startServerProcess } from '../helper.js'

async function fetchText (url: string): Promise<{ status: number, type: string | null, body: string, headers: Headers }> {
  const response = await fetch(url, { redirect: 'manual' })
  return { status: response.status, type: response.headers.get('content-type'), body: await response.text(), headers: response.headers }
}

t.test('standalone: the page at /, with its script, styles and the built client module', async (t) => {
  // An external database: the embedded one would outlive a server killed in teardown.
  const mongo = await startMongo(t)
  const server = await startServerProcess(t, { MONGO_URI: mongo.uri, MONGO_DB: mongo.db, DEAD_LETTER_FILE: join(t.testdir(), 'dead-letter.jsonl') })
  const page = await fetchText(`${server.base}/`)
  t.equal(page.status, 200)
  t.match(page.type, /^text\/html/)
  t.match(page.body, /<ol id="messages"/)
  t.match(page.headers.get('content-security-policy'), /default-src 'self'/, 'a script in a message could not run even if it were parsed')
  for (const [path, type] of [['/chat.js', /javascript/], ['/chat.css', /css/], ['/client/index.js', /javascript/], ['/client/chat-client.js', /javascript/]] as const) {
    const file = await fetchText(`${server.base}${path}`)
    t.equal(file.status, 200, path)
    t.match(file.type, type, path)
  }
  t.equal((await get(`${server.base}/client/index.d.ts`)).status, 404, 'only what browsers load')
  t.match(await get(`${server.base}/index.html`), { status: 404, body: { code: 'CHAT_NOT_FOUND' } })
})

t.test('standalone: CHAT_PAGE=false turns the page off; an invalid value stops start-up', async (t) => {
  const mongo = await startMongo(t)
  const env = { MONGO_URI: mongo.uri, MONGO_DB: mongo.db, DEAD_LETTER_FILE: join(t.testdir(), 'dead-letter.jsonl') }
  const server = await startServerProcess(t, { ...env, CHAT_PAGE: 'false' })
  t.match(await get(`${server.base}/`), { status: 404, body: { code: 'CHAT_NOT_FOUND' } })
  t.equal((await get(`${server.base}/client/index.js`)).status, 404)
  await t.rejects(startServerProcess(t, { ...env, CHAT_PAGE: 'maybe' }), /exited with 1/)
})

t.test('mounted: no page unless the chatPage option asks, whatever the environment says', async (t) => {
  const saved = process.env.CHAT_PAGE
  process.env.CHAT_PAGE = 'true'
  t.teardown(() => { if (saved === undefined) delete process.env.CHAT_PAGE; else process.env.CHAT_PAGE = saved })
  const service = await buildService(t)
  t.match(await get(`${service.base}/`), { status: 404, body: { code: 'CHAT_NOT_FOUND' } })
  t.equal((await get(`${service.base}/client/index.js`)).status, 404)
})

t.test('mounted with chatPage: true: the page under the prefix, which gets its trailing slash', async (t) => {
  const service = await buildService(t, { chatPage: true })
  const redirect = await fetchText(`${service.base}?x=1`)
  t.equal(redirect.status, 301)
  t.equal(redirect.headers.get('location'), '/chat/?x=1', 'relative links of the page resolve under /chat/')
  const page = await fetchText(`${service.base}/`)
  t.equal(page.status, 200)
  t.match(page.body, /src="chat.js"/)
  t.equal((await fetchText(`${service.base}/client/index.js`)).status, 200)
  t.equal((await fetchText(`${service.base.replace('/chat', '')}/chat.js`)).status, 404, 'nothing outside the prefix')
})
