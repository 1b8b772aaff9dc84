import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { authenticateUser, type IngestDeps, ingestRoutes } from '@hourglass/ingest'
import { queryRoutes, type WarehouseReader } from '@hourglass/query'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify'
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

export interface AppDeps extends IngestDeps, AdminDeps {
  readonly warehouse: WarehouseReader
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
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
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
  await app.register(adminRoutes, { log: deps.log, runners: deps.runners, adminToken: deps.adminToken })
  return app
}
