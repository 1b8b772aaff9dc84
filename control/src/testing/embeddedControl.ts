import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEmbeddedLog, type EmbeddedLog } from '@hourglass/log'
import { createPasswordHasher, type PasswordHasher } from '../accounts/passwords.ts'
import { type ControlPlane, createControlPlane } from '../controlPlane.ts'
import { createPersonKeyStore, type PersonKeyStore } from '../people/personalData.ts'
import type { SourceQuotas } from '../settings/admissionConfig.ts'

/** For tests: an embedded log, person keys and a password hasher in a scratch folder, and control planes over them. */
export interface EmbeddedControl {
  readonly log: EmbeddedLog
  readonly keys: PersonKeyStore
  /** A started control plane over the log (each one a process of its own, folding the log afresh). */
  plane(options?: { quotas?: SourceQuotas; now?: () => number }): Promise<ControlPlane>
  close(): Promise<void>
}

const HOUR = 3_600_000
const quotasForTests: SourceQuotas = {
  sessions: 10,
  tokens: 10,
  sessionLifetimeMs: HOUR,
  tokenLifetimeMs: HOUR,
}

export function openEmbeddedControl(name: string): EmbeddedControl {
  const dir = mkdtempSync(join(tmpdir(), `hourglass-${name}-`))
  const log = createEmbeddedLog({ path: join(dir, 'log') })
  const passwords: PasswordHasher = createPasswordHasher({ threads: 1, queue: 16 })
  const keys = createPersonKeyStore({
    path: join(dir, 'keys'),
    masterKey: randomBytes(32),
    indexKey: randomBytes(32),
  })
  return {
    log,
    keys,
    async plane({ quotas = quotasForTests, now } = {}) {
      const plane = createControlPlane(log.control, { passwords, keys, quotas, now })
      await plane.start()
      return plane
    },
    async close() {
      await passwords.close()
      await keys.close()
      await log.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
