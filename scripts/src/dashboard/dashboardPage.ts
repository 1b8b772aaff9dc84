import type { Page } from 'playwright-core'

/** Signs in through the dashboard's form and waits for the first view to load. */
export async function signInThroughPage(page: Page, account: { email: string; password: string }) {
  await page.getByLabel('E-mail').fill(account.email)
  await page.getByLabel('Password').fill(account.password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('button', { name: 'Sign out' }).waitFor()
}

/** The view element of the source and view the page's URL names (#/sources/<id>/<view>). */
export function currentView(page: Page) {
  const [, , source = '', view = 'overview'] = new URL(page.url()).hash.split('/')
  return page.locator(
    `.view[data-source="${decodeURIComponent(source)}"][data-view="${decodeURIComponent(view)}"]`,
  )
}

/** Waits until the view the URL names has loaded its data at least `times` times. */
export async function waitForRefresh(page: Page, times: number, timeout = 30_000) {
  const view = currentView(page)
  const deadline = Date.now() + timeout
  for (;;) {
    const refreshes = Number((await view.getAttribute('data-refreshes', { timeout })) ?? 0)
    if (refreshes >= times) return refreshes
    if (Date.now() > deadline)
      throw new Error(`the view loaded ${refreshes} times, not ${times}, in ${timeout} ms`)
    await page.waitForTimeout(50)
  }
}
