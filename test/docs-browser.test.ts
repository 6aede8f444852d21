// The /docs viewer in real Chromium: it renders every operation of the document, and every
// request the page makes goes to the service itself (its assets are not on a CDN).
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import type { Browser } from 'playwright-core'
import chat from '../app.js'
import { launchBrowser } from './browser.js'
import { buildService, SECRET, startMongo } from './helper.js'

const OPERATIONS = 13

async function renderDocs (t: Test, browser: Browser, url: string): Promise<void> {
  const context = await browser.newContext()
  t.teardown(() => context.close())
  const page = await context.newPage()
  const requested: string[] = []
  const failed: string[] = []
  page.on('request', (request) => requested.push(request.url()))
  page.on('requestfailed', (request) => failed.push(`${request.url()}: ${request.failure()?.errorText}`))
  page.on('response', (response) => { if (response.status() >= 400) failed.push(`${response.url()}: ${response.status()}`) })

  await page.goto(url)
  const operations = page.locator('.opblock')
  await operations.nth(OPERATIONS - 1).waitFor({ timeout: 30_000 })
  t.equal(await operations.count(), OPERATIONS, 'every operation of the document is rendered')
  const paths = (await page.locator('.opblock-summary-path').allTextContents()).map((path) => path.replace(/\u200b/g, '').trim())
  t.ok(paths.some((path) => path.endsWith('/api/messages/{channel_id}')), `the message routes are listed: ${paths.join(', ')}`)
  t.ok(paths.some((path) => path.endsWith('/ws')), 'so is the WebSocket upgrade')

  // Expanding the WebSocket operation shows its description: the frames both ways.
  await page.locator('#operations-websocket-openWebSocket .opblock-summary-control').click()
  await page.getByText('Client to server').waitFor({ timeout: 10_000 })
  t.ok(await page.getByText('Server to client').isVisible())

  const origin = new URL(url).origin
  // The logo is an inline data: URL, which is no request on the network.
  const network = requested.filter((request) => !request.startsWith('data:'))
  t.ok(network.length > 3, `the page loaded its assets and the document (${network.length} requests)`)
  t.same(network.filter((request) => new URL(request).origin !== origin), [], 'no request leaves the service')
  t.ok(network.some((request) => request.endsWith('/docs/json')), 'the document comes from the service')
  t.same(failed, [], 'no request failed')
}

t.test('mounted under /chat: /chat/docs and /chat/docs/ render every operation from the service alone', async (t) => {
  const browser = await launchBrowser(t)
  const service = await buildService(t)
  await t.test('without a trailing slash', (t) => renderDocs(t, browser, `${service.base}/docs`))
  await t.test('with a trailing slash', (t) => renderDocs(t, browser, `${service.base}/docs/`))
})

t.test('standalone: /docs at the root', async (t) => {
  const browser = await launchBrowser(t)
  const mongo = await startMongo(t)
  const app = Fastify()
  await app.register(chat, { mongoUri: mongo.uri, mongoDb: mongo.db, jwtSecret: SECRET })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  await renderDocs(t, browser, `http://127.0.0.1:${(app.server.address() as { port: number }).port}/docs`)
})
