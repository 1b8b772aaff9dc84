import { timingSafeEqual } from 'node:crypto'
import { credentialFrom } from '@hourglass/control'
import type { EmbeddedTelemetryLog } from '@hourglass/log'
import {
  type ProjectionStatus,
  projectionNamed,
  QUARANTINE_STATUSES,
  type QuarantinedRecord,
  type QuarantineFilter,
  type RedriveOutcome,
  type RedriveRequest,
} from '@hourglass/projections'
import { errors } from '@hourglass/schemas'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'

export interface AdminDeps {
  /** The embedded log's telemetry, whose head (past records of both kinds) the projections count up to. */
  readonly telemetry: Pick<EmbeddedTelemetryLog, 'head'>
  /** Where each projection stands. */
  projectionStatus(): Promise<ProjectionStatus[]>
  /** Rebuilds a projection from position 0 (replay.ts), telling how far it is. */
  replayProjection(
    name: string,
    onProgress: (progress: { committed: number; target: number }) => void,
  ): Promise<{ committed: number; target: number; switched: boolean }>
  /** Abandons the projection's build beside its serving generation; false when none is building. */
  cancelReplay(name: string): Promise<boolean>
  /** Records the projections set aside, and what an operator may do with them. */
  readonly quarantine: QuarantineOperations
  /** Operator token, kept in the data folder: whoever can read the data can operate. */
  readonly adminToken: string
}

export interface QuarantineOperations {
  list(filter: QuarantineFilter): Promise<QuarantinedRecord[]>
  /** Applies held records again, each counted once; what fails again stays held. */
  retry(request: RedriveRequest): Promise<RedriveOutcome[]>
  /** Gives held records up: they stay out of every count. Returns those dropped. */
  drop(filter: QuarantineFilter): Promise<QuarantinedRecord[]>
}

const QuarantineQuery = z.object({
  projection: z.string().min(1).optional().describe('a projection key, e.g. events@v1'),
  status: z.enum(QUARANTINE_STATUSES).optional(),
  position: z.coerce.number().int().min(0).optional().describe('the log position of one record'),
})

const QuarantineAction = z.object({
  projection: z
    .string()
    .min(1)
    .optional()
    .describe('a projection key, e.g. events@v1; every one when absent'),
  position: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe('the log position of one record; every held one when absent'),
  repair: z
    .boolean()
    .optional()
    .describe('retry only: make every string of the record well-formed Unicode before applying it'),
})

export interface ReplayState {
  readonly projection: string
  readonly target: number
  readonly committed: number
  readonly startedAt: string
  readonly finishedAt: string | null
  /** Once finished: true when the build was cancelled and the serving generation stayed. */
  readonly cancelled: boolean
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
export const adminRoutes: FastifyPluginAsync<AdminDeps> = async (
  fastify,
  { telemetry, projectionStatus, replayProjection, cancelReplay, quarantine, adminToken },
) => {
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
      log: { head: await telemetry.head() },
      projections: await projectionStatus(),
      replay,
    }
  })

  app.get(
    '/v1/admin/quarantine',
    { schema: { hide: true, querystring: QuarantineQuery } },
    async (request) => ({ records: await quarantine.list(request.query) }),
  )

  app.post(
    '/v1/admin/quarantine/:action',
    {
      schema: {
        hide: true,
        params: z.object({ action: z.enum(['retry', 'drop']) }),
        body: QuarantineAction.optional(),
      },
    },
    async (request) => {
      const body = request.body ?? {}
      if (request.params.action === 'retry') return { outcomes: await quarantine.retry(body) }
      if (body.repair !== undefined)
        throw errors.invalidRequest([{ path: 'repair', message: 'only a retry repairs a record' }])
      return { dropped: await quarantine.drop({ ...body, status: 'held' }) }
    },
  )

  app.post(
    '/v1/admin/projections/:name/replay',
    { schema: { hide: true, params: z.object({ name: z.string() }) } },
    async (request, reply) => {
      if (!projectionNamed(request.params.name)) throw errors.notFound(`projection "${request.params.name}"`)
      if (replay && replay.finishedAt === null)
        throw errors.conflict(`a replay of "${replay.projection}" is running`)
      const startedAt = new Date().toISOString()
      const name = request.params.name
      replay = {
        projection: name,
        target: await telemetry.head(),
        committed: 0,
        startedAt,
        finishedAt: null,
        cancelled: false,
        error: null,
      }
      replayProjection(name, (progress) => {
        replay = { projection: name, ...progress, startedAt, finishedAt: null, cancelled: false, error: null }
      }).then(
        (result) => {
          replay = {
            projection: name,
            target: result.target,
            committed: result.committed,
            startedAt,
            finishedAt: new Date().toISOString(),
            cancelled: !result.switched,
            error: null,
          }
          request.log.info(
            { projection: name, committed: result.committed, cancelled: !result.switched },
            result.switched ? 'replay finished' : 'replay cancelled: the serving generation stays',
          )
        },
        (error: unknown) => {
          replay = { ...replay!, finishedAt: new Date().toISOString(), error: String(error) }
          request.log.error({ err: error, projection: name }, 'replay failed')
        },
      )
      return reply.code(202).send(replay)
    },
  )

  app.delete(
    '/v1/admin/projections/:name/replay',
    { schema: { hide: true, params: z.object({ name: z.string() }) } },
    async (request) => {
      if (!projectionNamed(request.params.name)) throw errors.notFound(`projection "${request.params.name}"`)
      return { projection: request.params.name, cancelled: await cancelReplay(request.params.name) }
    },
  )
}
