import { type RateLimits, registerAdmissionControl } from '@hourglass/control'
import { registerWriteRoutes, type WriteRouteDeps } from '@hourglass/ingest'
import type { EmbeddedTelemetryLog } from '@hourglass/log'
import { readinessOf, registerProjectionMetrics } from '@hourglass/projections'
import { type ReadRouteDeps, registerReadRoutes } from '@hourglass/query'
import type { HttpTimeouts } from '@hourglass/server'
import { createApiServer, newRegistry, registerApiDocs } from '@hourglass/server'
import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import type { Logger } from 'pino'
import { type AdminDeps, adminRoutes } from './adminRoutes.ts'

export interface AppOptions {
  readonly logger: Logger
  readonly logRequests: boolean
  readonly timeouts: HttpTimeouts
  readonly rateLimits: RateLimits
  /** Records a projection may lag behind the log before /readyz reports degraded. */
  readonly readyMaxLag: number
}

export interface AppDeps extends WriteRouteDeps, Omit<ReadRouteDeps, 'access'>, AdminDeps {
  readonly telemetry: EmbeddedTelemetryLog
}

/** One HTTP server with the ingest, query and operator APIs and their OpenAPI docs at /docs. */
export async function buildApp(options: AppOptions, deps: AppDeps): Promise<FastifyInstance> {
  const app = await createApiServer(options)
  if (options.rateLimits) await registerAdmissionControl(app, options.rateLimits)
  await registerApiDocs(app)
  registerHealthRoutes(app, options, deps)
  await registerWriteRoutes(app, deps)
  await registerReadRoutes(app, deps)
  await app.register(adminRoutes, {
    telemetry: deps.telemetry,
    projectionStatus: deps.projectionStatus,
    replayProjection: deps.replayProjection,
    cancelReplay: deps.cancelReplay,
    quarantine: deps.quarantine,
    adminToken: deps.adminToken,
  })
  return app
}

/**
 * `/healthz`: the process is alive (liveness: restart it when this fails). `/readyz`: analytics
 * are current (every projection moving and within the lag bound), 503 with the reasons when not.
 * `/metrics`: Prometheus.
 */
function registerHealthRoutes(app: FastifyInstance, options: AppOptions, deps: AppDeps) {
  const registry = newRegistry('hourglass')
  registerProjectionMetrics(registry, deps.projectionStatus)
  const typed = app.withTypeProvider<ZodTypeProvider>()
  typed.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }))
  typed.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const readiness = readinessOf(await deps.projectionStatus(), { maxLag: options.readyMaxLag })
    return reply
      .code(readiness.ready ? 200 : 503)
      .send({ status: readiness.ready ? 'ready' : 'degraded', ...readiness })
  })
  typed.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  )
}
