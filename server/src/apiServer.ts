import type { IncomingMessage } from 'node:http'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type HTTPMethods,
  type RouteOptions,
} from 'fastify'
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod'
import type { Logger } from 'pino'
import { z } from 'zod'
import {
  answerConnectionError,
  answerFrameworkError,
  registerErrorHandler,
  registerJsonParser,
} from './httpErrors.ts'
import { RequestLogController } from './requestLogController.ts'

/**
 * The HTTP server every Hourglass service shares: one JSON parser, validation, error answers and
 * request logs, the timeouts of slow clients, the seed-compatible APIs' path and query rules, and
 * the OpenAPI docs. Embedded mode serves every route from one such server; distributed mode the
 * write routes from `hourglass ingest` and the read routes from `hourglass query`.
 */

/** How long a request may take to arrive: a client that is slower gets 408 and its connection closed. */
export interface HttpTimeouts {
  readonly requestMs: number
  readonly headersMs: number
  /** 0: a quiet connection is never closed for it. */
  readonly connectionMs: number
}

/** How often the server looks for requests past their timeouts (Node's default: every 30 s). */
const TIMEOUT_CHECK_MS = 1000

/**
 * A fastify server with Hourglass's JSON parser, validation and error answers, the timeouts of
 * slow clients.
 */
export async function createApiServer(options: {
  logger: Logger
  logRequests: boolean
  timeouts: HttpTimeouts
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
export async function registerCompat(
  app: FastifyInstance,
  register: (compat: FastifyInstance) => PromiseLike<unknown>,
) {
  await app.register(async (compat) => {
    compat.addHook('onRoute', refuseUnknownQueryParameters)
    await register(compat)
  })
}
