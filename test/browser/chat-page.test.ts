// The chat page in real Chromium, driven through its controls as a user would.
import t from 'tap'
import { launchBrowser, openChatPage, requireBuiltClient, sendFromPage, shownMessages } from '../browser.js'
import { bearer, buildService, eventually, post, token } from '../helper.js'

requireBuiltClient()
const ann = { id: 'ann', groups: ['team'] }
const bob = { id: 'bob', groups: ['team'] }

t.test('two pages chat through the chat page: each sees every message once, in the same order, with sender and time', async (t) => {
  const browser = await launchBrowser(t)
  const service = await buildService(t, { chatPage: true })
  const earlier = await post(`${service.base}/api/messages/team`, { content: 'Welcome to the team channel' }, bearer(bob))
  await eventually(() => service.collection.countDocuments(), (count) => count === 1)

  const annPage = await openChatPage(browser, `${service.base}/`, token(ann), 'team')
  const bobPage = await openChatPage(browser, `${service.base}/`, token(bob), 'team')
  t.match(await shownMessages(annPage.page), [{ id: earlier.body.id, sender: 'bob', content: 'Welcome to the team channel' }], 'recent history on connect')

  const conversation: Array<[typeof annPage, string]> = [
    [annPage, 'Hi Bob! Is the release still on for today?'],
    [bobPage, 'Yes, after the tests pass in Chromium.'],
    [annPage, 'Great, I will watch the channel.']
  ]
  for (const [{ page }, content] of conversation) {
    await sendFromPage(page, content)
    // One at a time, so the order is the order of sending.
    await eventually(() => shownMessages(page), (shown) => shown.at(-1)?.content === content)
  }
  const expected = ['Welcome to the team channel', ...conversation.map(([, content]) => content)]
  for (const { page } of [annPage, bobPage]) {
    const shown = await eventually(() => shownMessages(page), (list) => list.length === expected.length)
    t.same(shown.map((message) => message.content), expected)
    t.same(shown.map((message) => message.sender), ['bob', 'ann', 'bob', 'ann'])
    t.ok(shown.every((message) => /\d/.test(message.time)), 'each entry shows its time')
  }
  const annIds = (await shownMessages(annPage.page)).map((message) => message.id)
  t.same((await shownMessages(bobPage.page)).map((message) => message.id), annIds, 'the same messages (by id) on both pages')
  const stored = await eventually(() => service.collection.find().sort({ _id: 1 }).toArray(), (docs) => docs.length === 4)
  t.same(stored.map((doc) => doc._id.toHexString()), annIds, 'in the order they were stored')
  t.equal(await annPage.page.inputValue('textarea[name=content]'), '', 'the field is cleared once sent')
  t.same([...annPage.pageErrors, ...bobPage.pageErrors], [], 'no script errors')
})

t.test('a message holding HTML is shown as text and runs nothing', async (t) => {
  const browser = await launchBrowser(t)
  const service = await buildService(t, { chatPage: true })
  const reader = await openChatPage(browser, `${service.base}/`, token(ann), 'team')
  const writer = await openChatPage(browser, `${service.base}/`, token(bob), 'team')
  const attacks = ['<img src=x onerror="window.__xss = 1">', '<script>window.__xss = 2</script><b>bold?</b>']
  await sendFromPage(writer.page, attacks[0]!)
  await eventually(() => shownMessages(reader.page), (shown) => shown.length === 1)
  await post(`${service.base}/api/messages/team`, { content: attacks[1] }, bearer(bob))

  const shown = await eventually(() => shownMessages(reader.page), (list) => list.length === 2)
  t.same(shown.map((message) => message.content), attacks, 'the text exactly as sent')
  t.equal(await reader.page.locator('#messages img, #messages script, #messages b').count(), 0, 'no element was made from it')
  t.equal(await reader.page.evaluate(() => (window as { __xss?: number }).__xss), undefined, 'nothing ran')
  t.same(reader.pageErrors, [])
})

t.test('a refused connection is shown: the state and the service\'s reason', async (t) => {
  const browser = await launchBrowser(t)
  const service = await buildService(t, { chatPage: true })
  const { page } = await openChatPage(browser, `${service.base}/`, token(ann), 'team')
  await page.fill('input[name=channel]', 'bob')
  await page.click('button[name=connect]')
  await page.waitForSelector('#state[data-state=closed]', { timeout: 20_000 })
  t.equal(await page.textContent('#error'), 'No access to channel bob')
  t.equal(await page.isVisible('#error'), true)
})
