// ALLOWED_ORIGINS from pages in real Chromium: a page on an allowed origin uses REST and the
// WebSocket (with the client module loaded from the service); a page on another origin gets neither.
import t from 'tap'
import { createServer } from 'node:http'
import type { Page } from 'playwright-core'
import { launchBrowser, newPage, requireBuiltClient } from '../browser.js'
import { buildService, get, sleep, token } from '../helper.js'

requireBuiltClient()
const alice = { id: 'alice', groups: ['team'] }

/** An HTTP server of its own serving an empty page: a web app on another origin than the service. */
async function appOrigin (t: { teardown (fn: () => unknown): void }): Promise<string> {
  const server = createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>'))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`
}

async function openAt (browser: Awaited<ReturnType<typeof launchBrowser>>, origin: string): Promise<Page> {
  const { page } = await newPage(browser)
  await page.goto(`${origin}/`)
  return page
}

t.test('pages on an allowed origin and on another one', async (t) => {
  const browser = await launchBrowser(t)
  const allowedOrigin = await appOrigin(t)
  const otherOrigin = await appOrigin(t)
  const service = await buildService(t, { allowedOrigins: allowedOrigin, chatPage: true })
  const base = service.base
  const aliceToken = token(alice)

  t.test('the allowed origin: REST and WebSocket, through the client module loaded from the service', async (t) => {
    const page = await openAt(browser, allowedOrigin)
    const result = await page.evaluate(async ({ base, aliceToken }) => {
      const { ChatClient } = await import(`${base}/client/index.js`)
      const client = new ChatClient({ url: base, channel: 'team', getToken: () => aliceToken, history: 10 })
      const contents: string[] = []
      client.on('message', (message: { content: string }) => contents.push(message.content))
      client.connect()
      const sent = await client.send('over the WebSocket')
      const posted = await fetch(`${base}/api/messages/team`, {
        method: 'POST',
        headers: { authorization: `Bearer ${aliceToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ content: 'over REST' })
      })
      const postedBody = await posted.json()
      while (contents.length < 2) await new Promise((resolve) => setTimeout(resolve, 20))
      // History is read from the database, which the writer reaches a few milliseconds later.
      let historyStatus = 0
      let history: Array<{ content: string }> = []
      for (let attempt = 0; attempt < 100 && history.length < 2; attempt++) {
        const response = await fetch(`${base}/api/messages/team`, { headers: { authorization: `Bearer ${aliceToken}` } })
        historyStatus = response.status
        history = await response.json()
        if (history.length < 2) await new Promise((resolve) => setTimeout(resolve, 50))
      }
      client.close()
      return { sent, status: posted.status, postedBody, contents, historyStatus, history }
    }, { base, aliceToken })
    t.match(result.sent, { sender: 'alice', content: 'over the WebSocket' })
    t.equal(result.status, 201)
    t.match(result.postedBody, { content: 'over REST' }, 'the page can read the reply')
    t.same(result.contents, ['over the WebSocket', 'over REST'], 'the REST message reached the page over its WebSocket')
    t.equal(result.historyStatus, 200)
    t.same(result.history.map((message) => message.content), ['over REST', 'over the WebSocket'], 'newest first')
  })

  t.test('another origin: REST is blocked, the WebSocket never opens, nothing it sent is stored', async (t) => {
    const page = await openAt(browser, otherOrigin)
    const result = await page.evaluate(async ({ base, aliceToken }) => {
      const outcome = (request: Promise<Response>) => request.then((response) => `answered ${response.status}`, (error: Error) => `blocked: ${error.name}`)
      const post = await outcome(fetch(`${base}/api/messages/team`, {
        method: 'POST',
        headers: { authorization: `Bearer ${aliceToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ content: 'from the other origin' })
      }))
      const history = await outcome(fetch(`${base}/api/messages/team`, { headers: { authorization: `Bearer ${aliceToken}` } }))
      // A "simple" request, which browsers send without a preflight: opaque to the page, and not stored.
      const simple = await outcome(fetch(`${base}/api/messages/team`, { method: 'POST', mode: 'no-cors', body: JSON.stringify({ content: 'simple request' }) }))
      const socket = await new Promise<string>((resolve) => {
        const ws = new WebSocket(`${base.replace('http', 'ws')}/ws?channel=team`, ['access_token', aliceToken])
        ws.onopen = () => { ws.send(JSON.stringify({ content: 'over a socket from the other origin' })); resolve('opened') }
        ws.onclose = (event) => resolve(`closed ${event.code}`)
      })
      return { post, history, simple, socket }
    }, { base, aliceToken })
    t.same(result, { post: 'blocked: TypeError', history: 'blocked: TypeError', simple: 'answered 0', socket: 'closed 1006' })

    await sleep(300)
    const contents = (await service.collection.find().toArray()).map((doc) => doc.content)
    t.same(contents.sort(), ['over REST', 'over the WebSocket'], 'only what the allowed page sent')
    t.same((await get(`${base}/api/messages/counts?channels=team`)).body, { team: 0 }, 'no socket was ever open')
  })
})
