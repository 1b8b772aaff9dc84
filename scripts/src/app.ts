import { type RateLimits, registerAdmissionControl } from '@hourglass/control'
import { registerWriteRoutes, type WriteRouteDeps } from '@hourglass/ingest'
import type { EmbeddedTelemetryLog } from '@hourglass/log'
import { type ReadRouteDeps, registerReadRoutes } from '@hourglass/query'
import type { HttpTimeouts } from '@hourglass/server'
import { createApiServer, registerApiDocs } from '@hourglass/server'
import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import type { Logger } from 'pino'
import { type AdminDeps, adminRoutes } from './adminRoutes.ts'

export interface AppOptions {
  readonly logger: Logger
  readonly logRequests: boolean
  readonly timeouts: HttpTimeouts
  readonly rateLimits: RateLimits
}

export interface AppDeps extends WriteRouteDeps, Omit<ReadRouteDeps, 'access'>, AdminDeps {
  readonly telemetry: EmbeddedTelemetryLog
}

/** One HTTP server with the ingest, query and operator APIs and their OpenAPI docs at /docs. */
export async function buildApp(options: AppOptions, deps: AppDeps): Promise<FastifyInstance> {
  const app = await createApiServer(options)
  if (options.rateLimits) await registerAdmissionControl(app, options.rateLimits)
  await registerApiDocs(app)
  app
    .withTypeProvider<ZodTypeProvider>()
    .get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }))
  await registerWriteRoutes(app, deps)
  await registerReadRoutes(app, deps)
  await app.register(adminRoutes, {
    telemetry: deps.telemetry,
    projectionStatus: deps.projectionStatus,
    replayProjection: deps.replayProjection,
    cancelReplay: deps.cancelReplay,
    adminToken: deps.adminToken,
  })
  return app
}
