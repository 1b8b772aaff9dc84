import {
  type Authentication,
  authenticateDeviceUserRequest,
  authenticateFirst,
  authenticateFleetRequest,
  authenticateMetricaUser,
  authenticateTheEye,
  authenticateUser,
  type ControlPlane,
  createAnalystAccess,
  type MemberTokens,
  ownedFleet,
  type StoreAccess,
  theEyeSourceId,
  type UserTokens,
} from '@hourglass/control'
import { eventsProjection, type ProjectionProgress, userStatsProjection } from '@hourglass/projections'
import { registerCompat } from '@hourglass/server'
import type { FastifyInstance } from 'fastify'
import { appAnalyticsReadRoutes } from './appAnalyticsReadRoutes.ts'
import { devicesCompatReads } from './compat/devicesCompatReads.ts'
import { metricaCompatReads } from './compat/metricaCompatReads.ts'
import { receiptsCompatQueryRoutes } from './compat/receiptsCompatRoutes.ts'
import { theEyeCompatReads } from './compat/theEyeCompatReads.ts'
import { dashboardApiRoutes } from './dashboard/dashboardApiRoutes.ts'
import { dashboardAssets } from './dashboard/dashboardAssets.ts'
import { deviceSummaryRoutes } from './devices/deviceSummaryRoutes.ts'
import { queryRoutes } from './queryRoutes.ts'
import type { ReadCache } from './readCache.ts'
import { receiptQueryRoutes } from './receiptRoutes.ts'
import { storeStatsCompatReads, storeStatsRoutes } from './storeStatsRoutes.ts'
import type { WarehouseReader } from './warehouseReader.ts'

/**
 * Read routes are every route answered from the warehouse: they need the warehouse and read the
 * control plane only to check who may see what. Served by `hourglass query`, and by the embedded
 * server beside the write routes.
 */

export interface ReadRouteDeps {
  readonly warehouse: WarehouseReader
  /** Who owns which source, device users and bindings, definitions, members' roles. */
  readonly controlPlane: ControlPlane
  readonly userTokens: UserTokens
  readonly memberTokens: MemberTokens
  /** Store access tokens: a store reads its own statistics. */
  readonly access: Pick<StoreAccess, 'authenticate'>
  /** Each projection's progress through the log, for the dashboard's freshness. */
  projectionProgress(): Promise<readonly ProjectionProgress[]>
  /**
   * Waits, at most `timeoutMs`, until the projection has applied what was appended to the source
   * before the call (where the process cannot tell, everything the log held); false when it had
   * not by then (or does not run here).
   */
  awaitProjected(projection: string, sourceId: string, timeoutMs: number): Promise<boolean>
  /** Answers kept until the projections of this process write what they read: only where they run here. */
  readonly readCache?: ReadCache
}

/**
 * Registers route plugins whose every route needs `authentication`: it runs in their `onRequest`,
 * before a body or query is read or validated, so a caller without a valid credential gets 401
 * and learns nothing of the routes' schemas.
 */
const authenticatedRoutes = (
  app: FastifyInstance,
  authentication: Authentication<unknown>,
  routes: (group: FastifyInstance) => PromiseLike<unknown>,
) =>
  app.register(async (group) => {
    group.addHook('onRequest', authentication.onRequest)
    await routes(group)
  })

/** Every route answered from the warehouse, native and seed-compatible, and the dashboard. */
export async function registerReadRoutes(app: FastifyInstance, deps: ReadRouteDeps) {
  const { warehouse, controlPlane, userTokens, readCache } = deps
  const authenticate = authenticateFirst((request) => authenticateUser(userTokens, request))
  const devices = controlPlane.devices
  // The dashboard's page and scripts at `/` are public; its data is not.
  await app.register(dashboardAssets)
  await authenticatedRoutes(app, authenticate, async (group) => {
    await group.register(queryRoutes, { warehouse, authenticate, sources: controlPlane, readCache })
    await group.register(dashboardApiRoutes, {
      warehouse,
      authenticate,
      sources: controlPlane,
      projectionProgress: deps.projectionProgress,
    })
    await group.register(deviceSummaryRoutes, {
      warehouse,
      readCache,
      authenticate,
      ownedFleet: (accountId, sourceId) => ownedFleet(controlPlane, accountId, sourceId),
      devices,
    })
  })
  const store = authenticateFirst(deps.access.authenticate)
  await authenticatedRoutes(app, store, async (group) => {
    const storeReads = { warehouse, authenticateStore: store }
    await group.register(storeStatsRoutes, storeReads)
    await registerCompat(group, (compat) =>
      compat.register(storeStatsCompatReads, { ...storeReads, prefix: '/compat/store-stats' }),
    )
  })
  const analysts = createAnalystAccess(deps)
  await authenticatedRoutes(app, analysts.authenticate, async (group) => {
    const receiptReads = { warehouse, authorize: analysts.authorize, readCache }
    await group.register(receiptQueryRoutes, receiptReads)
    await registerCompat(group, (compat) =>
      compat.register(receiptsCompatQueryRoutes, { ...receiptReads, prefix: '/compat/receipts' }),
    )
  })
  // A device user's own password, or the fleet's API token.
  const deviceUser = authenticateFirst((request) => authenticateDeviceUserRequest(controlPlane, request))
  const fleet = authenticateFirst((request) => authenticateFleetRequest(controlPlane, request))
  const deviceReader = authenticateFirst(
    async (request) => (await deviceUser(request)) ?? (await fleet(request)),
  )
  await authenticatedRoutes(app, deviceReader, (group) =>
    registerCompat(group, (compat) =>
      compat.register(devicesCompatReads, {
        warehouse,
        authenticateFleet: fleet,
        authenticateDeviceUser: deviceUser,
        devices,
        prefix: '/compat/devices',
      }),
    ),
  )
  const apps = controlPlane.apps
  const appReads = {
    warehouse,
    authenticate,
    sources: controlPlane,
    findDefinition: (sourceId: string, eventCode: string) => apps.findDefinition(sourceId, eventCode),
  }
  await authenticatedRoutes(app, authenticate, (group) => group.register(appAnalyticsReadRoutes, appReads))
  const metricaUser = authenticateFirst((request) => authenticateMetricaUser(userTokens, request))
  await authenticatedRoutes(app, metricaUser, (group) =>
    registerCompat(group, (compat) =>
      compat.register(metricaCompatReads, {
        ...appReads,
        authenticate: metricaUser,
        awaitProjected: (sourceId, timeoutMs) =>
          deps.awaitProjected(userStatsProjection.name, sourceId, timeoutMs),
        readCache,
        prefix: '/compat/metrica',
      }),
    ),
  )
  const eyeUser = authenticateFirst((request) => authenticateTheEye({ controlPlane, userTokens }, request))
  await authenticatedRoutes(app, eyeUser, (group) =>
    registerCompat(group, (compat) =>
      compat.register(theEyeCompatReads, {
        warehouse,
        authenticate: eyeUser,
        eyeSourceId: theEyeSourceId,
        awaitProjected: (sourceId, timeoutMs) =>
          deps.awaitProjected(eventsProjection.name, sourceId, timeoutMs),
        readCache,
        prefix: '/compat/the-eye',
      }),
    ),
  )
}
