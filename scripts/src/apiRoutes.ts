import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import {
  appAnalyticsWriteRoutes,
  authenticateDeviceUserRequest,
  authenticateFleetRequest,
  authenticateMetricaUser,
  authenticateTheEye,
  authenticateUser,
  type ControlPlane,
  createAnalystAccess,
  createMemberTokens,
  createStoreAccess,
  createUserTokens,
  deviceRoutes,
  devicesCompatWrites,
  type IngestDeps,
  ingestRoutes,
  type MemberTokens,
  metricaCompatWrites,
  ownedFleet,
  receiptRoutes,
  receiptsCompatIngestRoutes,
  type StoreAccess,
  type StoreRegistry,
  type StoreWriteDeps,
  storeStatsCompatWrites,
  storeWriteRoutes,
  theEyeCompatWrites,
  theEyeSourceId,
  type UserTokens,
} from '@hourglass/ingest'
import { eventsProjection, userStatsProjection } from '@hourglass/projections'
import {
  appAnalyticsReadRoutes,
  dashboardApiRoutes,
  dashboardAssets,
  deviceSummaryRoutes,
  devicesCompatReads,
  metricaCompatReads,
  type ProjectionProgress,
  queryRoutes,
  type ReadCache,
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
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod'
import type { Logger } from 'pino'
import { registerErrorHandler, registerJsonParser } from './httpErrors.ts'

/**
 * The HTTP API in one place, for both modes. Embedded mode serves the write and the read
 * routes from one process; distributed mode serves the write routes from `hourglass ingest`
 * and the read routes from `hourglass query`. A route group is added here once and is then
 * served in both modes.
 *
 * Write routes are every route that appends to the log or reads the control plane (accounts,
 * sources, tracking plans, sessions, people, device users and bindings, members and roles):
 * they need the log. Read routes are every route answered from the warehouse: they need
 * the warehouse and read the control plane only to check who may see what.
 */

/** A fastify server with Hourglass's JSON parser, validation and error answers. */
export function createApiServer(options: {
  logger: Logger
  logRequests: boolean
  /** Longest path parameter (fastify's default: 100 characters). */
  maxParamLength?: number
}): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: !options.logRequests }),
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ...(options.maxParamLength ? { routerOptions: { maxParamLength: options.maxParamLength } } : {}),
  })
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  registerJsonParser(app)
  registerErrorHandler(app)
  return app
}

/** OpenAPI docs at /docs of whatever routes are registered after it. */
export async function registerApiDocs(app: FastifyInstance) {
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
}

/**
 * The tokens the API issues and checks, all signed with one secret for different audiences:
 * accounts', members' and stores' (a store's also needs the store to be active).
 */
export function createApiTokens(options: {
  secret: Uint8Array
  ttlSeconds: number
  stores: Pick<StoreRegistry, 'store'>
}) {
  const config = {
    secret: options.secret,
    issuer: 'hourglass',
    audience: 'hourglass',
    ttlSeconds: options.ttlSeconds,
  }
  return {
    userTokens: createUserTokens(config),
    memberTokens: createMemberTokens(config),
    access: createStoreAccess({ secret: options.secret, issuer: config.issuer, registry: options.stores }),
  }
}

export interface WriteRouteDeps extends IngestDeps, StoreWriteDeps {
  /** Tokens of members (seed 003's users), who read receipt analytics through granted roles. */
  readonly memberTokens: MemberTokens
}

/** Every route that appends to the log or reads the control plane, native and seed-compatible. */
export async function registerWriteRoutes(app: FastifyInstance, deps: WriteRouteDeps) {
  await app.register(ingestRoutes, deps)
  await app.register(storeWriteRoutes, deps)
  await app.register(storeStatsCompatWrites, { ...deps, prefix: '/compat/store-stats' })
  await app.register(receiptRoutes, deps)
  await app.register(receiptsCompatIngestRoutes, { ...deps, prefix: '/compat/receipts' })
  await app.register(deviceRoutes, deps)
  await app.register(devicesCompatWrites, { ...deps, prefix: '/compat/devices' })
  // Tracking plans, settings, tokens and sessions, and the Metrica and The Eye adapters.
  await app.register(appAnalyticsWriteRoutes, deps)
  await app.register(metricaCompatWrites, { ...deps, prefix: '/compat/metrica' })
  await app.register(theEyeCompatWrites, { ...deps, prefix: '/compat/the-eye' })
}

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

/** Every route answered from the warehouse, native and seed-compatible, and the dashboard. */
export async function registerReadRoutes(app: FastifyInstance, deps: ReadRouteDeps) {
  const { warehouse, controlPlane, userTokens, readCache } = deps
  const authenticate = (request: FastifyRequest) => authenticateUser(userTokens, request)
  const devices = controlPlane.devices
  await app.register(queryRoutes, { warehouse, authenticate, sources: controlPlane, readCache })
  // The analyst's dashboard at `/`, and the reads it needs beyond the APIs below.
  await app.register(dashboardApiRoutes, {
    warehouse,
    authenticate,
    sources: controlPlane,
    projectionProgress: deps.projectionProgress,
  })
  await app.register(dashboardAssets)
  const storeReads = { warehouse, authenticateStore: deps.access.authenticate }
  await app.register(storeStatsRoutes, storeReads)
  await app.register(storeStatsCompatReads, { ...storeReads, prefix: '/compat/store-stats' })
  const receiptReads = { warehouse, authorize: createAnalystAccess(deps).authorize, readCache }
  await app.register(receiptQueryRoutes, receiptReads)
  await app.register(receiptsCompatQueryRoutes, { ...receiptReads, prefix: '/compat/receipts' })
  await app.register(deviceSummaryRoutes, {
    warehouse,
    readCache,
    authenticate,
    ownedFleet: (accountId, sourceId) => ownedFleet(controlPlane, accountId, sourceId),
    devices,
  })
  await app.register(devicesCompatReads, {
    warehouse,
    authenticateFleet: (request) => authenticateFleetRequest(controlPlane, request),
    authenticateDeviceUser: (request) => authenticateDeviceUserRequest(controlPlane, request),
    devices,
    prefix: '/compat/devices',
  })
  const apps = controlPlane.apps
  const appReads = {
    warehouse,
    authenticate,
    sources: controlPlane,
    findDefinition: (sourceId: string, eventCode: string) => apps.findDefinition(sourceId, eventCode),
  }
  await app.register(appAnalyticsReadRoutes, appReads)
  await app.register(metricaCompatReads, {
    ...appReads,
    authenticate: (request) => authenticateMetricaUser(userTokens, request),
    awaitProjected: (sourceId, timeoutMs) =>
      deps.awaitProjected(userStatsProjection.name, sourceId, timeoutMs),
    readCache,
    prefix: '/compat/metrica',
  })
  await app.register(theEyeCompatReads, {
    warehouse,
    authenticate: (request) => authenticateTheEye(userTokens, request),
    eyeSourceId: theEyeSourceId,
    awaitProjected: (sourceId, timeoutMs) => deps.awaitProjected(eventsProjection.name, sourceId, timeoutMs),
    readCache,
    prefix: '/compat/the-eye',
  })
}
