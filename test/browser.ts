// Real headless Chromium for browser tests: Debian's system binary driven by playwright-core
// (no browser download). `.ci/run` installs the chromium package when it is missing.
import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

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
