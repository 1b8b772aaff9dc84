import { DeviceId, errors } from '@hourglass/schemas'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { MetricSummary, type SummaryScope } from '../devices/deviceSummaryQuery.ts'
import { type DeviceDirectory, type FleetScope, summaryOf } from '../devices/deviceSummaryRoutes.ts'
import { PeriodBound, type SummaryPeriod } from '../devices/summaryPeriod.ts'
import type { WarehouseReader } from '../warehouseReader.ts'

export interface DevicesCompatReadDeps {
  readonly warehouse: WarehouseReader
  /** The device fleet whose API token the request carries (a 401 otherwise, a 403 for another kind). */
  authenticateFleet(request: FastifyRequest): Promise<FleetScope>
  /**
   * The device user whose own credentials (HTTP Basic, user id and password) the request
   * carries; null when it carries none; a 401 when they are wrong.
   */
  authenticateDeviceUser(request: FastifyRequest): Promise<(FleetScope & { userId: string }) | null>
  readonly devices: DeviceDirectory
}

const AUTH_HELP = "Authenticated with the device fleet's API token (`Authorization: Bearer hg_…`)"
const USER_AUTH_HELP =
  `${AUTH_HELP}, or with the user's own credentials (\`Authorization: Basic base64(<user id>:<password>)\`), ` +
  "which read only that user's summaries"
const PERIOD_HELP =
  '`start_date` (inclusive) and `end_date` (exclusive), optional, as the original names them, or `from` and ' +
  '`to`: epoch ms, an ISO-8601 date, or a date-time (UTC when it has no zone); without them, all time. Any ' +
  'other parameter is a 400. Per metric: count, sum, min_value and max_value (the original names), min, max, ' +
  'mean, and median and p95 (t-digest, within 1% of the readings in rank).'

/** A bound as the original's clients write it too: a date-time without a zone is UTC. */
const CompatBound = z
  .string()
  .max(64)
  .transform((value) =>
    /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value) ? `${value.replace(' ', 'T')}Z` : value,
  )
  .pipe(PeriodBound)

/** The period of a summary under either name of each bound; any other parameter is refused. */
const CompatPeriod = z
  .strictObject({
    start_date: CompatBound.optional(),
    end_date: CompatBound.optional(),
    from: CompatBound.optional(),
    to: CompatBound.optional(),
  })
  .transform(({ start_date, end_date, from, to }, ctx): SummaryPeriod => {
    for (const [alias, name, both] of [
      ['start_date', 'from', start_date !== undefined && from !== undefined],
      ['end_date', 'to', end_date !== undefined && to !== undefined],
    ] as const) {
      if (both)
        ctx.addIssue({
          code: 'custom',
          path: [alias],
          message: `names the same bound as \`${name}\`: give one`,
        })
    }
    const period = { from: start_date ?? from, to: end_date ?? to }
    if (period.from !== undefined && period.to !== undefined && period.from > period.to)
      ctx.addIssue({
        code: 'custom',
        path: [start_date === undefined ? 'from' : 'start_date'],
        message: 'must not be after the end',
      })
    return period
  })

/** A summary under the original's field names too: `min_value`, `max_value` (`count`, `sum`, `median` are shared). */
const CompatSummary = MetricSummary.extend({ min_value: z.number(), max_value: z.number() })
const CompatSummaries = z.record(z.string(), CompatSummary)

const compatSummaryOf = async (
  deps: DevicesCompatReadDeps,
  fleet: FleetScope,
  scope: SummaryScope,
  period: SummaryPeriod,
): Promise<z.infer<typeof CompatSummaries>> => {
  const metrics = await summaryOf(deps, fleet, scope, period)
  return Object.fromEntries(
    Object.entries(metrics).map(([name, s]) => [name, { ...s, min_value: s.min, max_value: s.max }]),
  )
}

/** Seed 004's summary endpoints (`/compat/devices`): per device, per user, per device of a user. */
export const devicesCompatReads: FastifyPluginAsync<DevicesCompatReadDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()

  /** The fleet a user-scoped read is in: the user's own, or the token's (where the user must exist). */
  const fleetForUser = async (request: FastifyRequest, userId: string): Promise<FleetScope> => {
    const user = await deps.authenticateDeviceUser(request)
    if (!user) return deps.authenticateFleet(request)
    if (user.userId !== userId)
      throw errors.forbidden("a device user's credentials read only their own summaries")
    return user
  }

  app.get(
    '/stats/:device_id/summary',
    {
      schema: {
        tags: ['compat: devices'],
        summary: "Statistics of a device's readings, over a period if given (seed 004)",
        description: `${AUTH_HELP}. ${PERIOD_HELP}`,
        params: z.object({ device_id: DeviceId }),
        querystring: CompatPeriod,
        response: { 200: CompatSummaries },
      },
    },
    async (request) => {
      const fleet = await deps.authenticateFleet(request)
      return compatSummaryOf(
        deps,
        fleet,
        { kind: 'device', deviceId: request.params.device_id },
        request.query,
      )
    },
  )

  app.get(
    '/users/:user_id/stats/summary',
    {
      schema: {
        tags: ['compat: devices'],
        summary: "Statistics of all a user's devices (seed 004)",
        description: `${USER_AUTH_HELP}. Readings taken while the user owned the device. ${PERIOD_HELP}`,
        params: z.object({ user_id: z.string().min(1).max(64) }),
        querystring: CompatPeriod,
        response: { 200: CompatSummaries },
      },
    },
    async (request) => {
      const fleet = await fleetForUser(request, request.params.user_id)
      return compatSummaryOf(deps, fleet, { kind: 'user', userId: request.params.user_id }, request.query)
    },
  )

  app.get(
    '/users/:user_id/devices/:device_id/stats/summary',
    {
      schema: {
        tags: ['compat: devices'],
        summary: "Statistics of one of a user's devices (seed 004)",
        description: `${USER_AUTH_HELP}. Readings taken while the user owned the device. ${PERIOD_HELP}`,
        params: z.object({ user_id: z.string().min(1).max(64), device_id: DeviceId }),
        querystring: CompatPeriod,
        response: { 200: CompatSummaries },
      },
    },
    async (request) => {
      const { user_id: userId, device_id: deviceId } = request.params
      const fleet = await fleetForUser(request, userId)
      return compatSummaryOf(deps, fleet, { kind: 'userDevice', userId, deviceId }, request.query)
    },
  )
}
