import { timingSafeEqual } from 'node:crypto'
import { credentialFrom } from '@hourglass/ingest'
import type { EventLog } from '@hourglass/log'
import type { ProjectionRunner, ProjectionStatus } from '@hourglass/projections'
import { errors } from '@hourglass/schemas'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'

export interface AdminDeps {
  readonly log: EventLog
  /** Projection runners by projection name. */
  readonly runners: ReadonlyMap<string, ProjectionRunner>
  /** Operator token, kept in the data folder: whoever can read the data can operate. */
  readonly adminToken: string
}

export interface ReplayState {
  readonly projection: string
  readonly target: number
  readonly committed: number
  readonly startedAt: string
  readonly finishedAt: string | null
  readonly error: string | null
}

export interface AdminStatus {
  readonly log: { readonly head: number }
  readonly projections: ProjectionStatus[]
  readonly replay: ReplayState | null
}

const tokensMatch = (given: string, expected: string) => {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** Operator endpoints used by `hourglass status` and `hourglass replay` against a running instance. */
export const adminRoutes: FastifyPluginAsync<AdminDeps> = async (fastify, { log, runners, adminToken }) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()
  let replay: ReplayState | null = null

  const requireOperator = async (request: FastifyRequest) => {
    const token = credentialFrom(request.headers.authorization)
    if (!token || !tokensMatch(token, adminToken)) {
      throw errors.unauthenticated('operator endpoints need the token in <data dir>/secrets/admin-token')
    }
  }
  // Every route here is the operator's: the token is checked before anything is read or validated.
  app.addHook('onRequest', requireOperator)

  app.get('/v1/admin/status', { schema: { hide: true } }, async (): Promise<AdminStatus> => {
    return {
      log: { head: await log.head() },
      projections: await Promise.all([...runners.values()].map((runner) => runner.status())),
      replay,
    }
  })

  app.post(
    '/v1/admin/projections/:name/replay',
    { schema: { hide: true, params: z.object({ name: z.string() }) } },
    async (request, reply) => {
      const runner = runners.get(request.params.name)
      if (!runner) throw errors.notFound(`projection "${request.params.name}"`)
      if (replay && replay.finishedAt === null)
        throw errors.conflict(`a replay of "${replay.projection}" is running`)
      const startedAt = new Date().toISOString()
      const name = request.params.name
      replay = {
        projection: name,
        target: await log.head(),
        committed: 0,
        startedAt,
        finishedAt: null,
        error: null,
      }
      runner
        .replay((progress) => {
          replay = { projection: name, ...progress, startedAt, finishedAt: null, error: null }
        })
        .then(
          (status) => {
            replay = {
              projection: name,
              target: replay?.target ?? status.committed,
              committed: status.committed,
              startedAt,
              finishedAt: new Date().toISOString(),
              error: null,
            }
            request.log.info({ projection: name, committed: status.committed }, 'replay finished')
          },
          (error: unknown) => {
            replay = { ...replay!, finishedAt: new Date().toISOString(), error: String(error) }
            request.log.error({ err: error, projection: name }, 'replay failed')
          },
        )
      return reply.code(202).send(replay)
    },
  )
}
