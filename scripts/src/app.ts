import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import {
  appAnalyticsWriteRoutes,
  authenticateDeviceUserRequest,
  authenticateFleetRequest,
  authenticateMetricaUser,
  authenticateTheEye,
  authenticateUser,
  createAnalystAccess,
  deviceRoutes,
  devicesCompatWrites,
  type IngestDeps,
  ingestRoutes,
  type MemberTokens,
  metricaCompatWrites,
  ownedFleet,
  receiptRoutes,
  receiptsCompatIngestRoutes,
  type StoreWriteDeps,
  storeStatsCompatWrites,
  storeWriteRoutes,
  theEyeCompatWrites,
  theEyeSourceId,
} from '@hourglass/ingest'
import { eventsProjection, userStatsProjection } from '@hourglass/projections'
import {
  appAnalyticsReadRoutes,
  dashboardApiRoutes,
  dashboardAssets,
  deviceSummaryRoutes,
  devicesCompatReads,
  metricaCompatReads,
  queryRoutes,
  receiptQueryRoutes,
  receiptsCompatQueryRoutes,
  storeStatsCompatReads,
  storeStatsRoutes,
  theEyeCompatReads,
  type WarehouseReader,
} from '@hourglass/query'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
  LogController,
} from 'fastify'
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod'
import type { Logger } from 'pino'
import { type AdminDeps, adminRoutes } from './adminRoutes.ts'
import { registerErrorHandler, registerJsonParser } from './httpErrors.ts'

export interface AppOptions {
  readonly logger: Logger
  readonly logRequests: boolean
}

export interface AppDeps extends IngestDeps, AdminDeps, StoreWriteDeps {
  readonly warehouse: WarehouseReader
  /** Tokens of members (seed 003's users), who read receipt analytics through granted roles. */
  readonly memberTokens: MemberTokens
}

/** One HTTP server with the ingest, query and operator APIs and their OpenAPI docs at /docs. */
export async function buildApp(options: AppOptions, deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: !options.logRequests }),
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  })
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  registerJsonParser(app)
  registerErrorHandler(app)

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Hourglass',
        version: '0.1.0',
        description:
          'Event analytics on an immutable log. Producers send events with a source API token; analysts read ' +
          'hourly rollups and raw events with an account token. Errors are `{"error": {"code", "message", "issues"?}}`: ' +
          'the code is stable, `issues` name each wrong field and why.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          // The Eye's clients send "Authorization: Token <token>".
          token: { type: 'apiKey', in: 'header', name: 'Authorization' },
        },
      },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })

  app
    .withTypeProvider<ZodTypeProvider>()
    .get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }))

  await app.register(ingestRoutes, {
    log: deps.log,
    controlPlane: deps.controlPlane,
    userTokens: deps.userTokens,
  })
  await app.register(queryRoutes, {
    warehouse: deps.warehouse,
    authenticate: (request) => authenticateUser(deps.userTokens, request),
    sources: deps.controlPlane,
  })
  // The analyst's dashboard at `/`, and the reads it needs beyond the APIs below.
  await app.register(dashboardApiRoutes, {
    warehouse: deps.warehouse,
    authenticate: (request) => authenticateUser(deps.userTokens, request),
    sources: deps.controlPlane,
    projectionProgress: () => Promise.all([...deps.runners.values()].map((runner) => runner.status())),
  })
  await app.register(dashboardAssets)
  const storeWrites: StoreWriteDeps = {
    log: deps.log,
    controlPlane: deps.controlPlane,
    userTokens: deps.userTokens,
    registry: deps.registry,
    access: deps.access,
    erasureReport: deps.erasureReport,
  }
  const storeReads = { warehouse: deps.warehouse, authenticateStore: deps.access.authenticate }
  await app.register(storeWriteRoutes, storeWrites)
  await app.register(storeStatsRoutes, storeReads)
  await app.register(storeStatsCompatWrites, { ...storeWrites, prefix: '/compat/store-stats' })
  await app.register(storeStatsCompatReads, { ...storeReads, prefix: '/compat/store-stats' })
  const receiptWrites = {
    log: deps.log,
    controlPlane: deps.controlPlane,
    userTokens: deps.userTokens,
    memberTokens: deps.memberTokens,
  }
  const analystAccess = createAnalystAccess(receiptWrites)
  const receiptReads = { warehouse: deps.warehouse, authorize: analystAccess.authorize }
  await app.register(receiptRoutes, receiptWrites)
  await app.register(receiptQueryRoutes, receiptReads)
  await app.register(receiptsCompatIngestRoutes, { ...receiptWrites, prefix: '/compat/receipts' })
  await app.register(receiptsCompatQueryRoutes, { ...receiptReads, prefix: '/compat/receipts' })
  const deviceWrites = { log: deps.log, controlPlane: deps.controlPlane, userTokens: deps.userTokens }
  const deviceDirectory = deps.controlPlane.devices
  await app.register(deviceRoutes, deviceWrites)
  await app.register(deviceSummaryRoutes, {
    warehouse: deps.warehouse,
    authenticate: (request) => authenticateUser(deps.userTokens, request),
    ownedFleet: (accountId, sourceId) => ownedFleet(deps.controlPlane, accountId, sourceId),
    devices: deviceDirectory,
  })
  await app.register(devicesCompatWrites, { ...deviceWrites, prefix: '/compat/devices' })
  await app.register(devicesCompatReads, {
    warehouse: deps.warehouse,
    authenticateFleet: (request) => authenticateFleetRequest(deps.controlPlane, request),
    authenticateDeviceUser: (request) => authenticateDeviceUserRequest(deps.controlPlane, request),
    devices: deviceDirectory,
    prefix: '/compat/devices',
  })
  await registerAppAnalytics(app, deps)
  await app.register(adminRoutes, { log: deps.log, runners: deps.runners, adminToken: deps.adminToken })
  return app
}

/** Native app analytics (tracking plans, sessions, per-user statistics) and the Metrica and The Eye adapters. */
async function registerAppAnalytics(app: FastifyInstance, deps: AppDeps) {
  const writes = { log: deps.log, controlPlane: deps.controlPlane, userTokens: deps.userTokens }
  const apps = deps.controlPlane.apps
  const reads = {
    warehouse: deps.warehouse,
    authenticate: (request: FastifyRequest) => authenticateUser(deps.userTokens, request),
    sources: deps.controlPlane,
    findDefinition: (sourceId: string, eventCode: string) => apps.findDefinition(sourceId, eventCode),
  }
  /** Read-your-writes for the compat APIs: wait briefly until a projection has applied the log's head. */
  const awaitProjected = (projection: string) => async (timeoutMs: number) => {
    const runner = deps.runners.get(projection)
    if (!runner) return false
    const head = await deps.log.head()
    const [caughtUp] = await Promise.allSettled([runner.caughtUpTo(head, AbortSignal.timeout(timeoutMs))])
    return caughtUp.status === 'fulfilled'
  }
  await app.register(appAnalyticsWriteRoutes, writes)
  await app.register(appAnalyticsReadRoutes, reads)
  await app.register(metricaCompatWrites, { ...writes, prefix: '/compat/metrica' })
  await app.register(metricaCompatReads, {
    ...reads,
    authenticate: (request) => authenticateMetricaUser(deps.userTokens, request),
    awaitProjected: awaitProjected(userStatsProjection.name),
    prefix: '/compat/metrica',
  })
  await app.register(theEyeCompatWrites, { ...writes, prefix: '/compat/the-eye' })
  await app.register(theEyeCompatReads, {
    warehouse: deps.warehouse,
    authenticate: (request) => authenticateTheEye(deps.userTokens, request),
    eyeSourceId: theEyeSourceId,
    awaitProjected: awaitProjected(eventsProjection.name),
    prefix: '/compat/the-eye',
  })
}
