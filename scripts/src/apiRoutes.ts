import type { IncomingMessage } from 'node:http'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import {
  type Authentication,
  appAnalyticsWriteRoutes,
  authenticateDeviceUserRequest,
  authenticateFirst,
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
  type RateLimits,
  receiptRoutes,
  receiptsCompatIngestRoutes,
  registerAdmissionControl,
  requireKnownSubject,
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
  type HTTPMethods,
  type RouteOptions,
} from 'fastify'
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod'
import type { Logger } from 'pino'
import { z } from 'zod'
import type { HttpTimeouts } from './admissionConfig.ts'
import {
  answerConnectionError,
  answerFrameworkError,
  registerErrorHandler,
  registerJsonParser,
} from './httpErrors.ts'
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

/** How often the server looks for requests past their timeouts (Node's default: every 30 s). */
const TIMEOUT_CHECK_MS = 1000

/**
 * A fastify server with Hourglass's JSON parser, validation and error answers, the timeouts of
 * slow clients, and the rate limits of every route registered on it afterwards (when given).
 */
export async function createApiServer(options: {
  logger: Logger
  logRequests: boolean
  timeouts: HttpTimeouts
  rateLimits?: RateLimits
  /** Longest path parameter (fastify's default: 100 characters). */
  maxParamLength?: number
}): Promise<FastifyInstance> {
  const { timeouts } = options
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    logController: new RequestLogController({ disableRequestLogging: !options.logRequests }),
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // A request that is still arriving after these is answered 408 and its connection closed: a
    // client that declares a body and sends it slowly, or never, does not hold a connection.
    requestTimeout: timeouts.requestMs,
    connectionTimeout: timeouts.connectionMs,
    http: { headersTimeout: timeouts.headersMs, connectionsCheckingInterval: TIMEOUT_CHECK_MS },
    clientErrorHandler: answerConnectionError,
    frameworkErrors: answerFrameworkError,
    ...(options.maxParamLength ? { routerOptions: { maxParamLength: options.maxParamLength } } : {}),
    rewriteUrl(request) {
      return compatPathEitherSlash(this, request)
    },
  })
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  registerJsonParser(app)
  registerErrorHandler(app)
  if (options.rateLimits) await registerAdmissionControl(app, options.rateLimits)
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
 * accounts' (whose account must exist), members' and stores' (a store's also needs the store to
 * be active).
 */
export function createApiTokens(options: {
  secret: Uint8Array
  ttlSeconds: number
  accounts: Pick<ControlPlane, 'findAccount'>
  stores: Pick<StoreRegistry, 'store'>
}) {
  const config = {
    secret: options.secret,
    issuer: 'hourglass',
    audience: 'hourglass',
    ttlSeconds: options.ttlSeconds,
  }
  return {
    userTokens: requireKnownSubject(
      createUserTokens(config),
      async (accountId) => (await options.accounts.findAccount(accountId)) !== null,
    ),
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
async function registerCompat(
  app: FastifyInstance,
  register: (compat: FastifyInstance) => PromiseLike<unknown>,
) {
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
