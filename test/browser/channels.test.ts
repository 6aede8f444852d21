// The chat page with several channels over one socket, in real Chromium, as a user would use it.
// CHAT_PAGE_SCREENSHOT=1 also writes docs/chat-page.png, the README's screenshot.
import t from 'tap'
import { join } from 'node:path'
import { launchBrowser, openChatPage, requireBuiltClient, sendFromPage, shownMessages } from '../browser.js'
import { bearer, buildService, eventually, get, post, token } from '../helper.js'

requireBuiltClient()
const ann = { id: 'ann', groups: ['g1', 'g2', 'g3', 'fresh'] }
const ben = { id: 'ben', groups: ['g1', 'g2', 'g3', 'fresh'] }

const unreadOf = (page: import('playwright-core').Page, channel: string) => page.textContent(`#channels [data-channel="${channel}"] .unread`)

t.test('three channels over one socket: each channel an item, the selected one shown, unread counts for the others', async (t) => {
  const browser = await launchBrowser(t)
  const service = await buildService(t, { chatPage: true })
  const { page, pageErrors } = await openChatPage(browser, `${service.base}/`, token(ann), 'g1, g2, g3')
  t.same(await page.$$eval('#channels [data-channel]', (items) => items.map((item) => (item as HTMLElement).dataset.channel)), ['g1', 'g2', 'g3'])
  t.match(await (await fetch(`${service.base}/metrics`)).text(), /^chat_websocket_connections 1$/m, 'one socket for the page')

  await sendFromPage(page, 'hello g1')
  await eventually(() => shownMessages(page), (shown) => shown.at(-1)?.content === 'hello g1')
  const inG2 = await post(`${service.base}/api/messages/g2`, { content: 'news in g2' }, bearer(ben))
  await post(`${service.base}/api/messages/g2`, { content: 'more in g2' }, bearer(ben))
  await eventually(() => unreadOf(page, 'g2'), (text) => text === '2')
  t.equal(await unreadOf(page, 'g1'), '', 'the selected channel counts nothing')
  t.same((await shownMessages(page)).map((message) => message.content), ['hello g1'], 'only the selected channel is shown')

  await page.click('#channels [data-channel="g2"]')
  t.equal(await unreadOf(page, 'g2'), '', 'selecting clears the count')
  const shown = await shownMessages(page)
  t.same(shown.map((message) => message.content), ['news in g2', 'more in g2'])
  t.equal(shown[0]!.id, inG2.body.id)
  await sendFromPage(page, 'answer in g2')
  const stored = await eventually(() => service.collection.find({ content: 'answer in g2' }).toArray(), (docs) => docs.length === 1)
  t.equal(stored[0]!.channel, 'g2', 'the send goes to the selected channel')
  t.same(pageErrors, [])
  if (process.env.CHAT_PAGE_SCREENSHOT) await page.screenshot({ path: join(import.meta.dirname, '..', '..', 'docs', 'chat-page.png') })
})

t.test('two pages on a fresh, empty channel answer input at once: type, send, both show it', async (t) => {
  const browser = await launchBrowser(t)
  const service = await buildService(t, { chatPage: true })
  const first = await openChatPage(browser, `${service.base}/`, token(ann), 'fresh')
  const second = await openChatPage(browser, `${service.base}/`, token(ben), 'fresh')
  for (const [{ page }, content] of [[first, 'first words'], [second, 'an answer']] as const) {
    await page.bringToFront()
    // A blocked main thread fails here: typing and clicking wait for the page to respond.
    await page.locator('textarea[name=content]').pressSequentially(content, { timeout: 5_000 })
    await page.click('button[name=send]', { timeout: 5_000 })
    for (const { page: each } of [first, second]) await eventually(() => shownMessages(each), (shown) => shown.at(-1)?.content === content)
  }
  t.same((await shownMessages(second.page)).map((message) => message.content), ['first words', 'an answer'])
  t.same([...first.pageErrors, ...second.pageErrors], [])
})

t.test('two users on one channel: each sees the other in #presence; typing in one page shows in the other\'s #typing, then clears', async (t) => {
  const browser = await launchBrowser(t)
  const service = await buildService(t, { chatPage: true, presenceLeaveDelayMs: 200 })
  const annPage = await openChatPage(browser, `${service.base}/`, token(ann), 'g1, g2')
  const benPage = await openChatPage(browser, `${service.base}/`, token(ben), 'g1')
  const presentOn = (page: import('playwright-core').Page) => page.$$eval('#presence [data-user]', (items) => items.map((item) => (item as HTMLElement).dataset.user))
  await eventually(() => presentOn(annPage.page), (users) => users.length === 2)
  t.same(await presentOn(annPage.page), ['ann', 'ben'])
  t.same(await eventually(() => presentOn(benPage.page), (users) => users.length === 2), ['ann', 'ben'])

  await benPage.page.bringToFront()
  await benPage.page.locator('textarea[name=content]').pressSequentially('hel', { timeout: 5_000 })
  t.match(await eventually(() => annPage.page.textContent('#typing'), (text) => text?.includes('ben') === true), /ben/, 'ben is typing, shown to ann')
  t.equal(await benPage.page.textContent('#typing'), '', 'not to ben himself')
  // The page keeps a typer for three of the client's default intervals (2 s each).
  t.equal(await eventually(() => annPage.page.textContent('#typing'), (text) => text === '', 10_000), '', 'cleared after about three intervals')

  await benPage.page.locator('textarea[name=content]').pressSequentially('lo', { timeout: 5_000 })
  await eventually(() => annPage.page.textContent('#typing'), (text) => text?.includes('ben') === true)
  await benPage.page.click('button[name=send]')
  t.equal(await eventually(() => annPage.page.textContent('#typing'), (text) => text === '', 1_500), '', 'cleared at once by ben\'s message')

  await annPage.page.click('#channels [data-channel="g2"]')
  t.same(await presentOn(annPage.page), ['ann'], 'the selected channel\'s users')
  await benPage.page.close()
  await annPage.page.click('#channels [data-channel="g1"]')
  t.same(await eventually(() => presentOn(annPage.page), (users) => users.length === 1), ['ann'], 'ben left when his page closed')
  t.same([...annPage.pageErrors, ...benPage.pageErrors], [])
})

t.test('read state in two pages: unread counts from the service, cleared by selecting; edits and deletes made over REST show in both', async (t) => {
  const browser = await launchBrowser(t)
  const service = await buildService(t, { chatPage: true })
  const before = await post(`${service.base}/api/messages/g2`, { content: 'sent before ann came' }, bearer(ben))
  const annPage = await openChatPage(browser, `${service.base}/`, token(ann), 'g1, g2')
  const benPage = await openChatPage(browser, `${service.base}/`, token(ben), 'g2')
  t.equal(await eventually(() => unreadOf(annPage.page, 'g2'), (text) => text === '1'), '1', 'the service\'s count, from before the page opened')

  await sendFromPage(benPage.page, 'hello ann')
  t.equal(await eventually(() => unreadOf(annPage.page, 'g2'), (text) => text === '2'), '2', 'raised by a message in a channel not viewed')
  await annPage.page.click('#channels [data-channel="g2"]')
  t.equal(await unreadOf(annPage.page, 'g2'), '', 'selecting clears it')
  const unread = await eventually(async () => (await get(`${service.base}/api/unread`, bearer(ann))).body, (counts) => counts.g2 === 0)
  t.equal(unread.g2, 0, 'and the marker moved on the service')

  const hello = (await shownMessages(benPage.page)).find((message) => message.content === 'hello ann')!
  const edited = await fetch(`${service.base}/api/messages/g2/${hello.id}`, { method: 'PATCH', headers: { 'content-type': 'application/json', ...bearer(ben) }, body: JSON.stringify({ content: 'hello ann, edited' }) })
  t.equal(edited.status, 200)
  for (const { page } of [annPage, benPage]) {
    await eventually(() => shownMessages(page), (shown) => shown.some((message) => message.content === 'hello ann, edited'))
    t.equal(await page.textContent(`#messages [data-id="${hello.id}"] .edited`), 'edited', 'the edit is marked')
  }
  const deleted = await fetch(`${service.base}/api/messages/g2/${before.body.id}`, { method: 'DELETE', headers: bearer(ben) })
  t.equal(deleted.status, 204)
  for (const { page } of [annPage, benPage]) {
    t.same((await eventually(() => shownMessages(page), (shown) => shown.length === 1)).map((message) => message.content), ['hello ann, edited'], 'the deleted message is gone')
  }
  t.same([...annPage.pageErrors, ...benPage.pageErrors], [])
})
