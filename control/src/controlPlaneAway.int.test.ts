import { randomBytes } from 'node:crypto'
import { LogUnavailableError } from '@hourglass/log'
import { createPostgresControlStore, type PostgresControlStore } from '@hourglass/log/postgres'
import { scratchSchemas, startTcpRelay, type TcpRelay } from '@hourglass/log/postgres/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { PasswordHasher } from './accounts/passwords.ts'
import type { ControlPlane } from './controlPlane.ts'
import type { PersonKeyStore } from './people/personalData.ts'
import { createPostgresPersonKeyStore } from './people/postgresPersonKeyStore.ts'
import { startControlPlanes } from './testing/controlPlanes.ts'

/**
 * The control plane of one distributed process over PostgreSQL, reached through a relay that
 * the test cuts: what telemetry needs is answered from the records followed so far; writes,
 * and what the process has not followed yet, are unavailable (503) until PostgreSQL is back.
 */

const schemas = scratchSchemas('away')
let relay: TcpRelay
let store: PostgresControlStore
let passwords: PasswordHasher
let keys: PersonKeyStore
let plane: ControlPlane
let other: ControlPlane

beforeAll(async () => {
  const server = new URL(schemas.url)
  relay = await startTcpRelay({ host: server.hostname, port: Number(server.port || 5432) })
  const through = new URL(schemas.url)
  through.hostname = '127.0.0.1'
  through.port = String(relay.port)
  store = await createPostgresControlStore(schemas.options({ url: through.toString() }))
  // Keys are reached directly: the relay cuts the control records only.
  keys = await createPostgresPersonKeyStore({ postgres: schemas.options(), masterKey: randomBytes(32) })
  const quotas = { sessions: 100, tokens: 100, sessionLifetimeMs: 3_600_000, tokenLifetimeMs: 3_600_000 }
  const started = await startControlPlanes(store, keys, { count: 2, quotas })
  passwords = started.passwords
  ;[plane, other] = started.planes as [ControlPlane, ControlPlane]
})
afterAll(async () => {
  await store?.close()
  await keys?.close()
  await relay?.close()
  await passwords?.close()
  await schemas.dropAll()
})

const t0 = Date.UTC(2026, 10, 1)
const HOUR = 3600_000

describe('a control plane over PostgreSQL while PostgreSQL is unreachable', () => {
  it('answers what telemetry needs from the followed records, refuses writes as unavailable, and works on once it is back', async () => {
    const app = await plane.createSource('account-1', { kind: 'app', name: 'app' })
    const shop = await plane.createSource('account-1', { kind: 'store', name: 'shop' })
    const { source: fleet } = await plane.createSource('account-1', { kind: 'device', name: 'fleet' })
    const ana = await plane.devices.registerUser(fleet, { name: 'ana', password: 'correct horse' })
    await plane.devices.bindDevice(fleet, 'd1', { userId: ana.userId, effectiveFrom: t0 })
    // Made through another process: this one has not read it.
    const unseen = await other.createSource('account-1', { kind: 'app', name: 'unseen' })

    await relay.cut()
    try {
      expect((await plane.authenticateSource(app.apiToken))?.sourceId).toBe(app.source.sourceId)
      // A store's token checks whether the store is switched off: as followed.
      expect((await plane.authenticateSource(shop.apiToken))?.sourceId).toBe(shop.source.sourceId)
      // An event name outside the tracking plan would read the log; the plan followed stands.
      const rules = await plane.apps.ingestRules(app.source, [{ name: 'never-defined' }])
      expect(rules.definition('never-defined')).toBeUndefined()
      // A reading of a bound device is stamped with the binding followed.
      const device = await plane.devices.deviceForReading(fleet, 'd1', { timestamp: t0 + HOUR })
      expect(device.bindings.at(-1)?.userId).toBe(ana.userId)

      // Writes, and a source this process has not read, are unavailable: not a 401, not a 500.
      for (const attempt of [
        () => plane.createSource('account-1', { kind: 'app', name: 'during' }),
        () => plane.registerAccount({ email: 'away@example.com', name: 'Away', password: 'correct horse' }),
        () => plane.authenticateSource(unseen.apiToken),
      ]) {
        const operation = attempt()
        await expect(operation).rejects.toBeInstanceOf(LogUnavailableError)
        await expect(operation).rejects.toMatchObject({ retryable: true })
      }
    } finally {
      await relay.restore()
    }

    const after = await plane.createSource('account-1', { kind: 'app', name: 'after' })
    expect((await other.authenticateSource(after.apiToken))?.sourceId).toBe(after.source.sourceId)
    expect((await plane.authenticateSource(unseen.apiToken))?.sourceId).toBe(unseen.source.sourceId)
  })
})
