import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadEmbeddedConfig } from '@hourglass/control'
import { caughtUp, type EmbeddedRuntime, startEmbedded } from '@hourglass/scripts'
import {
  createSource,
  currentView,
  type DemoAccount,
  HttpClient,
  launchChromium,
  loadFleet,
  loadPlace,
  loadStore,
  sendEvents,
  signInThroughPage,
  signUp,
  waitForRefresh,
} from '@hourglass/scripts/dashboard'
import { pino } from 'pino'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'

// The dashboard in headless Chromium against a real embedded Hourglass on a loopback port.
// Chromium must be installed (.ci/run installs Debian's package): without it these tests fail.

const root = join(import.meta.dirname, '..', '..')
const dataDir = mkdtempSync(join(tmpdir(), 'hourglass-dashboard-'))
let runtime: EmbeddedRuntime
let browser: Browser
let client: HttpClient
const contexts: BrowserContext[] = []

beforeAll(async () => {
  // `npm test` has built the dashboard already; turbo's cache makes this a no-op then.
  const build = spawnSync(
    join(root, 'node_modules', '.bin', 'turbo'),
    ['run', 'build', '--filter=@hourglass/query', '--output-logs=errors-only'],
    { cwd: root, encoding: 'utf8' },
  )
  if (build.status !== 0) throw new Error(`the dashboard did not build:\n${build.stdout}\n${build.stderr}`)
  browser = await launchChromium()
  const config = loadEmbeddedConfig({ HOURGLASS_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn' })
  runtime = await startEmbedded(config, pino({ level: 'warn' }))
  client = new HttpClient(runtime.url)
})

// A page left open keeps refreshing live: close each test's pages when it ends.
afterEach(async () => {
  for (const context of contexts.splice(0)) await context.close()
})

afterAll(async () => {
  await browser?.close()
  await runtime?.close()
  rmSync(dataDir, { recursive: true, force: true })
})

/** A new browser profile (nothing signed in), recording every URL the page asks for. */
async function openPage(viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport })
  contexts.push(context)
  const page = await context.newPage()
  const requested: string[] = []
  page.on('request', (request) => requested.push(request.url()))
  return { page, requested }
}

const settled = async () => {
  await caughtUp(runtime)
}

/** A chart of the view on screen, by its caption (a figure is named by its figcaption). */
const figure = (page: Page, caption: string | RegExp) =>
  currentView(page).getByRole('figure', { name: caption, exact: typeof caption === 'string' })

const pageViewEvents = (count: number, from: number) =>
  Array.from({ length: count }, (_, i) => ({
    name: 'page_view',
    timestamp: from + i * 1000,
    subject: `visitor-${i % 4}`,
    session: `visit-${i % 3}`,
    attrs: { path: `/products/${i}` },
  }))

describe('the dashboard in a browser', () => {
  let analyst: DemoAccount
  let app: { id: string; apiToken: string }
  const start = Date.now() - 20 * 60_000

  beforeAll(async () => {
    analyst = await signUp(client, 'analyst@example.com')
    app = await createSource(client, analyst.token, 'app', 'electronics-shop')
    await client.call('POST', `/v1/sources/${app.id}/event-definitions`, {
      token: analyst.token,
      body: {
        events: [
          {
            name: 'purchase',
            attrs: [
              { name: 'product', type: 'string' },
              { name: 'quantity', type: 'integer' },
            ],
          },
        ],
      },
    })
    await sendEvents(client, app.apiToken, [
      ...pageViewEvents(20, start),
      {
        id: 'order-7-paid',
        name: 'purchase',
        timestamp: start + 60_000,
        subject: 'visitor-1',
        session: 'visit-1',
        attrs: { product: 'resistor', quantity: 3 },
      },
    ])
    await settled()
  })

  it('sends a signed-out browser to sign in', async () => {
    const { page } = await openPage()
    await page.goto(`${runtime.url}/#/sources/${app.id}/overview`)
    await page.getByRole('heading', { name: 'Sign in to Hourglass' }).waitFor()
    expect(new URL(page.url()).hash).toBe('#/sign-in')
    expect(await page.locator('.view').count()).toBe(0)
  })

  it('signs in, charts events as they arrive, opens an event in the explorer, and signs out', async () => {
    const { page, requested } = await openPage()
    await page.goto(runtime.url)
    await signInThroughPage(page, analyst)
    await waitForRefresh(page, 1)
    expect(await page.getByLabel('Source', { exact: true }).locator('option:checked').textContent()).toBe(
      'electronics-shop (app)',
    )
    const events = figure(page, 'Events per hour')
    expect(await events.getAttribute('data-total')).toBe('21')
    expect(await page.getByTestId('freshness').textContent()).toMatch(
      /^Newest event .* ago · projection lag \d+$/,
    )
    expect(
      await figure(page, 'Events per hour').getByRole('img').getAttribute('aria-labelledby'),
    ).toBeTruthy()

    // Live: events posted through the API show up without reloading the page.
    await page.evaluate(() => {
      ;(globalThis as Record<string, unknown>).sameDocument = true
    })
    await sendEvents(client, app.apiToken, pageViewEvents(9, start + 120_000))
    await expect.poll(() => events.getAttribute('data-total'), { timeout: 30_000 }).toBe('30')
    expect(await page.evaluate(() => (globalThis as Record<string, unknown>).sameDocument)).toBe(true)

    // The explorer: filter by name, open one event, read its JSON.
    await page.getByRole('link', { name: 'Event explorer' }).click()
    await waitForRefresh(page, 1)
    expect(await page.locator('table.events tbody tr').count()).toBe(30)
    await page.getByLabel('Event name').fill('purchase')
    await page.getByRole('button', { name: 'Apply filters' }).click()
    await expect.poll(() => page.locator('table.events tbody tr').count()).toBe(1)
    await page.getByRole('button', { name: 'Show event purchase order-7-paid' }).click()
    const detail = page.getByRole('region', { name: 'Event purchase (order-7-paid)' })
    const shown = JSON.parse((await detail.locator('pre').textContent()) ?? '')
    expect(shown).toMatchObject({
      id: 'order-7-paid',
      name: 'purchase',
      subject: 'visitor-1',
      session: 'visit-1',
      attrs: { product: 'resistor', quantity: 3 },
    })
    await page.getByLabel('Event name').fill('')
    await page.getByLabel('Person (subject)').fill('visitor-2')
    await page.getByRole('button', { name: 'Apply filters' }).click()
    await expect.poll(() => page.locator('table.events tbody tr').count()).toBe(7)

    // Sign out: the token is gone and the dashboard asks to sign in again.
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('heading', { name: 'Sign in to Hourglass' }).waitFor()
    expect(await page.getByRole('status').textContent()).toBe('You are signed out.')
    await page.goto(`${runtime.url}/#/sources/${app.id}/overview`)
    await page.getByRole('heading', { name: 'Sign in to Hourglass' }).waitFor()

    // Everything the page loaded came from Hourglass itself.
    const origin = new URL(runtime.url).origin
    expect(requested.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith('data:'))).toEqual([])
  })

  it("never shows another account's sources", async () => {
    const other = await signUp(client, 'someone-else@example.com')
    await createSource(client, other.token, 'site', 'their-blog')
    const { page } = await openPage()
    await page.goto(runtime.url)
    await signInThroughPage(page, other)
    const options = await page.getByLabel('Source', { exact: true }).locator('option').allTextContents()
    expect(options).toEqual(['their-blog (site)'])
    await page.goto(`${runtime.url}/#/sources/${app.id}/overview`)
    await page.getByRole('alert').filter({ hasText: 'not one of your account’s sources' }).waitFor()
    expect(await page.locator('figure').count()).toBe(0)
  })

  it('shows the view of each kind of source', async () => {
    const now = Date.now()
    const store = await loadStore(client, analyst.token, { now, days: 1 })
    const place = await loadPlace(client, analyst.token, { now, days: 1 })
    const fleet = await loadFleet(client, analyst.token, { now, days: 1 })
    await settled()
    const { page } = await openPage()
    await page.goto(runtime.url)
    await signInThroughPage(page, analyst)
    const show = async (sourceId: string, view: string) => {
      await page.goto(`${runtime.url}/#/sources/${sourceId}/${view}`)
      await waitForRefresh(page, 1)
      expect(await page.getByRole('alert').count()).toBe(0)
    }

    await show(app.id, 'user-stats')
    const byKey = page.locator('figure.bar-chart', { hasText: 'Totals by key' })
    expect(await byKey.getByRole('row', { name: /resistor/ }).textContent()).toMatch(/resistor.*3.*1/)

    await show(store.id, 'store')
    expect(
      Number(await figure(page, 'Events per UTC day by type').getAttribute('data-total')),
    ).toBeGreaterThan(0)

    await show(place.id, 'receipts')
    const purchases = Number(await figure(page, 'Purchases per hour').getAttribute('data-total'))
    expect(purchases).toBeGreaterThan(0)
    expect(await page.locator('[data-kpi="purchases"]').textContent()).toBe(String(purchases))
    expect(
      Number(
        await page.locator('figure.bar-chart', { hasText: 'Revenue by category' }).getAttribute('data-rows'),
      ),
    ).toBeGreaterThan(0)

    await show(fleet.id, 'devices')
    const band = figure(page, /min–max band/)
    expect(Number(await band.getAttribute('data-points'))).toBeGreaterThan(20)

    // On a phone the page reflows instead of scrolling sideways.
    await page.setViewportSize({ width: 390, height: 844 })
    await show(app.id, 'overview')
    const widths = await page.locator('html').evaluate((html) => [html.scrollWidth, html.clientWidth])
    expect(widths[0]).toBeLessThanOrEqual(widths[1]!)
  })
})
