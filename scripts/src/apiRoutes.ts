import type { IncomingMessage } from 'node:http'
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
  type HTTPMethods,
  type RouteOptions,
} from 'fastify'
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod'
import type { Logger } from 'pino'
import { z } from 'zod'
import { registerErrorHandler, registerJsonParser } from './httpErrors.ts'
import { RequestLogController } from './requestLogController.ts'

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
    logController: new RequestLogController({ disableRequestLogging: !options.logRequests }),
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ...(options.maxParamLength ? { routerOptions: { maxParamLength: options.maxParamLength } } : {}),
    rewriteUrl(request) {
      return compatPathEitherSlash(this, request)
    },
  })
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  registerJsonParser(app)
  registerErrorHandler(app)
  return app
}

/**
 * The seed APIs' clients write a path with or without its trailing slash (Django's and FastAPI's
 * canonical paths end in one, the seed documents often leave it out): a /compat path that no
 * route takes as written is read with the slash added or removed. Only /compat paths: fastify's
 * `ignoreTrailingSlash` would give every native route a second spelling too.
 */
export function compatPathEitherSlash(
  app: Pick<FastifyInstance, 'findRoute'>,
  request: Pick<IncomingMessage, 'method' | 'url'>,
): string {
  const url = request.url ?? '/'
  if (!url.startsWith('/compat/')) return url
  const queryAt = url.indexOf('?')
  const path = queryAt < 0 ? url : url.slice(0, queryAt)
  const method = (request.method ?? 'GET') as HTTPMethods
  if (app.findRoute({ method, url: path })) return url
  const other = path.endsWith('/') ? path.slice(0, -1) : `${path}/`
  if (!app.findRoute({ method, url: other })) return url
  return queryAt < 0 ? other : `${other}${url.slice(queryAt)}`
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

/**
 * A seed-compatible route never ignores a query parameter it does not know: one without a query
 * schema takes none, and a plain object schema is made strict (a transformed one is strict itself).
 * Unknown parameters are then a 400 that names each.
 */
export const refuseUnknownQueryParameters = (route: RouteOptions) => {
  const schema = route.schema ?? {}
  if (schema.querystring === undefined) schema.querystring = z.strictObject({})
  else if (schema.querystring instanceof z.ZodObject) schema.querystring = schema.querystring.strict()
  route.schema = schema
}

/** Route groups of the seed-compatible APIs, registered where `refuseUnknownQueryParameters` applies. */
async function registerCompat(app: FastifyInstance, register: (compat: FastifyInstance) => Promise<void>) {
  await app.register(async (compat) => {
    compat.addHook('onRoute', refuseUnknownQueryParameters)
    await register(compat)
  })
}

/** Every route that appends to the log or reads the control plane, native and seed-compatible. */
export async function registerWriteRoutes(app: FastifyInstance, deps: WriteRouteDeps) {
  await app.register(ingestRoutes, deps)
  await app.register(storeWriteRoutes, deps)
  await app.register(receiptRoutes, deps)
  await app.register(deviceRoutes, deps)
  // Tracking plans, settings, tokens and sessions.
  await app.register(appAnalyticsWriteRoutes, deps)
  await registerCompat(app, async (compat) => {
    await compat.register(storeStatsCompatWrites, { ...deps, prefix: '/compat/store-stats' })
    await compat.register(receiptsCompatIngestRoutes, { ...deps, prefix: '/compat/receipts' })
    await compat.register(devicesCompatWrites, { ...deps, prefix: '/compat/devices' })
    await compat.register(metricaCompatWrites, { ...deps, prefix: '/compat/metrica' })
    await compat.register(theEyeCompatWrites, { ...deps, prefix: '/compat/the-eye' })
  })
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
   * Waits, at most `timeoutMs`, until the projection has applied everything the log held when
   * asked; false when it had not by then (or does not run here).
   */
  awaitProjected(projection: string, timeoutMs: number): Promise<boolean>
}

/** Every route answered from the warehouse, native and seed-compatible, and the dashboard. */
export async function registerReadRoutes(app: FastifyInstance, deps: ReadRouteDeps) {
  const { warehouse, controlPlane, userTokens } = deps
  const authenticate = (request: FastifyRequest) => authenticateUser(userTokens, request)
  const devices = controlPlane.devices
  await app.register(queryRoutes, { warehouse, authenticate, sources: controlPlane })
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
  const receiptReads = { warehouse, authorize: createAnalystAccess(deps).authorize }
  await app.register(receiptQueryRoutes, receiptReads)
  await app.register(deviceSummaryRoutes, {
    warehouse,
    authenticate,
    ownedFleet: (accountId, sourceId) => ownedFleet(controlPlane, accountId, sourceId),
    devices,
  })
  const apps = controlPlane.apps
  const appReads = {
    warehouse,
    authenticate,
    sources: controlPlane,
    findDefinition: (sourceId: string, eventCode: string) => apps.findDefinition(sourceId, eventCode),
  }
  await app.register(appAnalyticsReadRoutes, appReads)
  await registerCompat(app, async (compat) => {
    await compat.register(storeStatsCompatReads, { ...storeReads, prefix: '/compat/store-stats' })
    await compat.register(receiptsCompatQueryRoutes, { ...receiptReads, prefix: '/compat/receipts' })
    await compat.register(devicesCompatReads, {
      warehouse,
      authenticateFleet: (request) => authenticateFleetRequest(controlPlane, request),
      authenticateDeviceUser: (request) => authenticateDeviceUserRequest(controlPlane, request),
      devices,
      prefix: '/compat/devices',
    })
    await compat.register(metricaCompatReads, {
      ...appReads,
      authenticate: (request) => authenticateMetricaUser(userTokens, request),
      awaitProjected: (timeoutMs) => deps.awaitProjected(userStatsProjection.name, timeoutMs),
      prefix: '/compat/metrica',
    })
    await compat.register(theEyeCompatReads, {
      warehouse,
      authenticate: (request) => authenticateTheEye({ controlPlane, userTokens }, request),
      eyeSourceId: theEyeSourceId,
      awaitProjected: (timeoutMs) => deps.awaitProjected(eventsProjection.name, timeoutMs),
      prefix: '/compat/the-eye',
    })
  })
}
