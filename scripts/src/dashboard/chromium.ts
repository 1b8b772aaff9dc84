import { existsSync } from 'node:fs'
import { type Browser, chromium } from 'playwright-core'

/** Debian's Chromium (`apt-get install chromium`), or the one HOURGLASS_CHROMIUM names. */
export const chromiumPath = (env: NodeJS.ProcessEnv = process.env) =>
  env.HOURGLASS_CHROMIUM ?? '/usr/bin/chromium'

/**
 * Starts headless Chromium for the dashboard's browser tests and screenshots. A missing browser
 * is an error that says how to install it, never a reason to skip.
 */
export async function launchChromium(env: NodeJS.ProcessEnv = process.env): Promise<Browser> {
  const executablePath = chromiumPath(env)
  if (!existsSync(executablePath)) {
    throw new Error(
      `Chromium is not installed at ${executablePath}: the dashboard's browser tests need it. ` +
        "Install Debian's package with `apt-get update && apt-get install -y chromium` (as root; .ci/run does), " +
        'or set HOURGLASS_CHROMIUM to a Chromium binary.',
    )
  }
  return chromium.launch({
    executablePath,
    headless: true,
    // Playwright gives every launch a new, empty profile. Chromium's own background traffic
    // (updates, sync, field trials) is switched off: it has no network here and the dashboard needs none.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}
