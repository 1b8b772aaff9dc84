/**
 * `npm run screenshots`: starts an embedded Hourglass in a temporary folder, loads a month of
 * demo data through the API, and saves a picture of each dashboard view at 1280×800 (and the
 * overview at a phone's width) under docs/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadEmbeddedConfig } from '@hourglass/control'
import { pino } from 'pino'
import type { Page } from 'playwright-core'
import { caughtUp, startEmbedded } from '../embeddedRuntime.ts'
import { launchChromium } from './chromium.ts'
import { signInThroughPage, waitForRefresh } from './dashboardPage.ts'
import { HttpClient, loadApp, loadFleet, loadPlace, loadStore, signUp } from './demoData.ts'

const root = join(import.meta.dirname, '..', '..', '..')
const docs = join(root, 'docs')
const out = (line: string) => process.stdout.write(`${line}\n`)

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'hourglass-screenshots-'))
  const config = loadEmbeddedConfig({ HOURGLASS_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn' })
  const runtime = await startEmbedded(config, pino({ level: 'warn' }))
  const browser = await launchChromium()
  try {
    const client = new HttpClient(runtime.url)
    const now = Date.now()
    const days = 30
    const started = Date.now()
    const account = await signUp(client, 'analyst@example.com')
    const app = await loadApp(client, account.token, { now, days, perHour: 60 })
    const store = await loadStore(client, account.token, { now, days })
    const place = await loadPlace(client, account.token, { now, days })
    const fleet = await loadFleet(client, account.token, { now, days })
    const head = await runtime.telemetry.head()
    await caughtUp(runtime)
    out(`demo data: ${head} log records in ${((Date.now() - started) / 1000).toFixed(1)} s`)

    mkdirSync(docs, { recursive: true })
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-GB' })
    const page = await context.newPage()
    // A month, in UTC, still (live refreshes would move the pictures while they are taken).
    const preferences = { preset: '30d', zone: 'UTC', live: false, fromDate: '', toDate: '' }
    await page.addInitScript(
      `localStorage.setItem('hourglass.preferences', '${JSON.stringify(preferences)}')`,
    )
    await page.goto(runtime.url)
    await page.screenshot({ path: join(docs, 'dashboard-sign-in.png') })
    await signInThroughPage(page, account)

    const shoot = async (
      sourceId: string,
      view: string,
      file: string,
      prepare?: (page: Page) => Promise<void>,
    ) => {
      const begun = Date.now()
      await page.goto(`${runtime.url}/#/sources/${sourceId}/${view}`)
      await waitForRefresh(page, 1)
      const rendered = Date.now() - begun
      await prepare?.(page)
      await page.locator('html').evaluate((html) => html.ownerDocument.defaultView?.scrollTo(0, 0))
      await page.screenshot({ path: join(docs, file) })
      out(`${file}: ${view} of ${sourceId} ready in ${rendered} ms`)
    }
    await shoot(app.id, 'overview', 'dashboard-overview.png')
    await shoot(app.id, 'user-stats', 'dashboard-user-stats.png')
    await shoot(store.id, 'store', 'dashboard-store.png')
    await shoot(place.id, 'receipts', 'dashboard-receipts.png')
    await shoot(fleet.id, 'devices', 'dashboard-devices.png', async (p) => {
      await p.getByLabel('Metric', { exact: true }).selectOption('temperature')
      await waitForRefresh(p, 2)
    })
    await shoot(app.id, 'explorer', 'dashboard-explorer.png', async (p) => {
      await p
        .getByRole('button', { name: /^Show event purchase/ })
        .first()
        .click()
      await p.getByRole('region', { name: /^Event purchase/ }).waitFor()
    })

    await page.setViewportSize({ width: 390, height: 844 })
    await shoot(app.id, 'overview', 'dashboard-phone.png')
    await context.close()
  } finally {
    await browser.close()
    await runtime.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exitCode = 1
})
