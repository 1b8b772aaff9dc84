import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ControlStore, createEmbeddedLog, type EmbeddedLog } from '@hourglass/log'
import { createPasswordHasher, type PasswordHasher } from '../accounts/passwords.ts'
import { type ControlPlane, createControlPlane } from '../controlPlane.ts'
import { createPersonKeyStore, type PersonKeyStore } from '../people/personalData.ts'
import type { SourceQuotas } from '../settings/admissionConfig.ts'

/** Control planes over one control store, started, and the password hasher they share. */
export interface StartedControlPlanes {
  /** One a process: each folds the control records on its own. */
  readonly planes: ControlPlane[]
  readonly passwords: PasswordHasher
}

const HOUR = 3_600_000

/** What a test's control planes are given: limits of their own, and a clock the test sets. */
export interface PlaneOptions {
  readonly quotas?: SourceQuotas
  readonly now?: () => number
}

const quotasForTests: SourceQuotas = {
  sessions: 10,
  tokens: 10,
  sessionLifetimeMs: HOUR,
  tokenLifetimeMs: HOUR,
}

const startPlane = async (
  store: ControlStore,
  keys: PersonKeyStore,
  passwords: PasswordHasher,
  { quotas = quotasForTests, now }: PlaneOptions,
) => {
  const plane = createControlPlane(store, { passwords, keys, quotas, ...(now ? { now } : {}) })
  await plane.start()
  return plane
}

/** `count` control planes over `store`, as `count` processes have, each started. */
export async function startControlPlanes(
  store: ControlStore,
  keys: PersonKeyStore,
  options: PlaneOptions & { count?: number } = {},
): Promise<StartedControlPlanes> {
  const passwords = createPasswordHasher({ threads: 1, queue: 16 })
  const planes = await Promise.all(
    Array.from({ length: options.count ?? 1 }, () => startPlane(store, keys, passwords, options)),
  )
  return { planes, passwords }
}

/** Control planes over an embedded control log, with person keys in LMDB, in a scratch folder. */
export interface EmbeddedControlPlanes extends StartedControlPlanes {
  readonly log: EmbeddedLog
  readonly keys: PersonKeyStore
  /** One more started control plane over the same log: a process that folds it afresh. */
  plane(options?: PlaneOptions): Promise<ControlPlane>
  /** Closes all and removes the folder. */
  close(): Promise<void>
}

/** `count` control planes (one by default) over a fresh embedded control log, each started. */
export async function embeddedControlPlanes(
  options: PlaneOptions & { count?: number } = {},
): Promise<EmbeddedControlPlanes> {
  const dir = mkdtempSync(join(tmpdir(), 'hourglass-control-'))
  const log = createEmbeddedLog({ path: join(dir, 'log') })
  const keys = createPersonKeyStore({
    path: join(dir, 'keys'),
    masterKey: randomBytes(32),
    indexKey: randomBytes(32),
  })
  const started = await startControlPlanes(log.control, keys, options)
  return {
    ...started,
    log,
    keys,
    plane: (planeOptions = {}) => startPlane(log.control, keys, started.passwords, planeOptions),
    async close() {
      await started.passwords.close()
      await keys.close()
      await log.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
