// Real headless Chromium for browser tests: Debian's system binary driven by playwright-core
// (no browser download). `.ci/run` installs the chromium package when it is missing.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'

type Test = { teardown (fn: () => unknown): void }

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** One browser for a test file, closed in teardown. Each test opens its own context (its own cookies and storage). */
export async function launchBrowser (t: Test): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`no Chromium at ${CHROMIUM_PATH}: install it (Debian: apt-get install chromium) or set CHROMIUM_PATH`)
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    // This machine's network is closed: without the background-networking flags Chromium keeps
    // trying to reach Google's hosts. --no-sandbox because CI runs as root.
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'
    ]
  })
  t.teardown(() => browser.close())
  return browser
}

const root = join(import.meta.dirname, '..')

/** Pages load the client module built, as browsers do: `npm test` builds it first (pretest). */
export function requireBuiltClient (): void {
  const built = join(root, 'dist', 'client', 'index.js')
  const sources = readdirSync(join(root, 'client')).filter((name) => name.endsWith('.ts')).map((name) => join(root, 'client', name))
  if (!existsSync(built) || sources.some((source) => statSync(source).mtimeMs > statSync(built).mtimeMs)) {
    throw new Error('dist/client is missing or older than client/: run `npx tsc -p client` (npm test does it first)')
  }
}

export interface ShownMessage { id: string, sender: string, time: string, content: string }

/** A page in its own browser context; errors thrown by its scripts are collected. */
export async function newPage (browser: Browser): Promise<{ page: Page, pageErrors: Error[] }> {
  const context = await browser.newContext({ viewport: { width: 900, height: 560 } })
  const page = await context.newPage()
  const pageErrors: Error[] = []
  page.on('pageerror', (error) => pageErrors.push(error))
  return { page, pageErrors }
}

/** Opens the chat page at `url` and connects it, through its own controls, to a channel. */
export async function openChatPage (
  browser: Browser,
  url: string,
  token: string,
  channel: string
): Promise<{ page: Page, pageErrors: Error[] }> {
  const opened = await newPage(browser)
  const { page } = opened
  await page.goto(url)
  await page.fill('input[name=token]', token)
  await page.fill('input[name=channel]', channel)
  await page.click('button[name=connect]')
  await page.waitForSelector('#state[data-state=open]', { timeout: 20_000 })
  return opened
}

export async function sendFromPage (page: Page, content: string): Promise<void> {
  await page.fill('textarea[name=content]', content)
  await page.click('button[name=send]')
}

/** What the page's #messages list shows, entry by entry. */
export function shownMessages (page: Page): Promise<ShownMessage[]> {
  return page.$$eval('#messages li', (items) => items.map((item) => ({
    id: (item as HTMLElement).dataset.id ?? '',
    sender: item.querySelector('.sender')?.textContent ?? '',
    time: item.querySelector('time')?.textContent ?? '',
    content: item.querySelector('.content')?.textContent ?? ''
  })))
}
