import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { createApiServer, type HttpTimeouts, registerApiDocs } from './apiServer.ts'

/**
 * What every separate service of distributed mode has: the shared HTTP server, /healthz (200 when
 * it can do its work, 503 with the reason when not) and Prometheus /metrics.
 */

export interface RunningService {
  /** Where it listens, e.g. http://127.0.0.1:8080. */
  readonly url: string
  close(): Promise<void>
}

export const serviceApp = async (
  logger: Logger,
  config: { HOURGLASS_LOG_REQUESTS: string },
  timeouts: HttpTimeouts,
  registry: Registry,
  health: () => Promise<Record<string, unknown>>,
  options: {
    docs?: boolean
    maxParamLength?: number
    /** `/readyz`: whether the service's work is current (503 with the reasons when not); liveness stays `/healthz`. */
    readiness?: () => Promise<{ readonly ready: boolean }>
  } = {},
) => {
  const app = await createApiServer({
    logger,
    logRequests: config.HOURGLASS_LOG_REQUESTS === 'true',
    timeouts,
    ...(options.maxParamLength ? { maxParamLength: options.maxParamLength } : {}),
  })
  // The public services document their own routes at /docs.
  if (options.docs) await registerApiDocs(app)
  app.get('/healthz', { schema: { hide: true } }, async (_request, reply) => {
    try {
      return { status: 'ok', ...(await health()) }
    } catch (error) {
      return reply.code(503).send({ status: 'unavailable', reason: (error as Error).message })
    }
  })
  const { readiness } = options
  if (readiness) {
    app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
      const answer = await readiness()
      return reply
        .code(answer.ready ? 200 : 503)
        .send({ status: answer.ready ? 'ready' : 'degraded', ...answer })
    })
  }
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  )
  return app
}

export const newRegistry = (service: string) => {
  const registry = new Registry()
  registry.setDefaultLabels({ service })
  collectDefaultMetrics({ register: registry })
  return registry
}

export const listen = async (app: FastifyInstance, config: { HOST: string; PORT: number }) =>
  app.listen({ host: config.HOST, port: config.PORT })

/**
 * Starts `app` listening and gives the running service. Closing it stops taking requests first,
 * then closes what the service holds, in the order given (what serves the routes before what
 * they read).
 */
export const runService = async (
  app: FastifyInstance,
  config: { HOST: string; PORT: number },
  holds: readonly { close(): Promise<unknown> }[],
): Promise<RunningService> => {
  const url = await listen(app, config)
  return {
    url,
    async close() {
      await app.close()
      for (const held of holds) await held.close()
    },
  }
}
