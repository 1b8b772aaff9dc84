import type { MemberTokens } from '@hourglass/control'
import { registerCompat } from '@hourglass/server'
import type { FastifyInstance } from 'fastify'
import { appAnalyticsWriteRoutes } from './apps/appAnalyticsWriteRoutes.ts'
import { sourceRevocationRoutes } from './apps/sourceRevocationRoutes.ts'
import { devicesCompatWrites } from './compat/devicesCompatWrites.ts'
import { metricaCompatWrites } from './compat/metricaCompatWrites.ts'
import { receiptsCompatIngestRoutes } from './compat/receiptsCompatRoutes.ts'
import { storeStatsCompatWrites } from './compat/storeStatsCompatWrites.ts'
import { theEyeCompatWrites } from './compat/theEyeCompatWrites.ts'
import { deviceRoutes } from './devices/deviceRoutes.ts'
import { type IngestDeps, ingestRoutes } from './ingestRoutes.ts'
import { type StoreWriteDeps, storeWriteRoutes } from './people/storeWriteRoutes.ts'
import { receiptRoutes } from './receiptRoutes.ts'

/**
 * Write routes are every route that appends to the log or reads the control plane (accounts,
 * sources, tracking plans, sessions, people, device users and bindings, members and roles): they
 * need the log. Served by `hourglass ingest`, and by the embedded server beside the read routes.
 */

export interface WriteRouteDeps extends IngestDeps, StoreWriteDeps {
  /** Tokens of members (seed 003's users), who read receipt analytics through granted roles. */
  readonly memberTokens: MemberTokens
}

/** Every route that appends to the log or reads the control plane, native and seed-compatible. */
export async function registerWriteRoutes(app: FastifyInstance, deps: WriteRouteDeps) {
  await app.register(ingestRoutes, deps)
  await app.register(storeWriteRoutes, deps)
  await app.register(receiptRoutes, deps)
  await app.register(deviceRoutes, deps)
  // Tracking plans, settings, tokens and sessions.
  await app.register(appAnalyticsWriteRoutes, deps)
  // Revoking sources and their API tokens.
  await app.register(sourceRevocationRoutes, deps)
  await registerCompat(app, async (compat) => {
    await compat.register(storeStatsCompatWrites, { ...deps, prefix: '/compat/store-stats' })
    await compat.register(receiptsCompatIngestRoutes, { ...deps, prefix: '/compat/receipts' })
    await compat.register(devicesCompatWrites, { ...deps, prefix: '/compat/devices' })
    await compat.register(metricaCompatWrites, { ...deps, prefix: '/compat/metrica' })
    await compat.register(theEyeCompatWrites, { ...deps, prefix: '/compat/the-eye' })
  })
}
