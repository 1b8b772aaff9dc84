import { DeviceId, errors } from '@hourglass/schemas'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { WarehouseReader } from '../warehouseReader.ts'
import { MetricSummary, type SummaryScope, summariseReadings } from './deviceSummaryQuery.ts'
import { SummaryPeriod } from './summaryPeriod.ts'

/** A device fleet: the tenant and source that scope every summary. */
export interface FleetScope {
  readonly accountId: string
  readonly sourceId: string
}

/** What the summaries need of the control plane: whether a fleet's device or user exists. */
export interface DeviceDirectory {
  findDevice(sourceId: string, deviceId: string): Promise<object | null>
  findUser(sourceId: string, userId: string): Promise<object | null>
}

export interface DeviceSummaryDeps {
  readonly warehouse: WarehouseReader
  /** The account a request speaks for (a 401 when it speaks for none). */
  authenticate(request: FastifyRequest): Promise<{ accountId: string }>
  /** The account's device fleet: a 404 when it owns no such source, a 409 when it is no fleet. */
  ownedFleet(accountId: string, sourceId: string): Promise<FleetScope>
  readonly devices: DeviceDirectory
}

/** Summaries of a scope that exists in the fleet: an unknown device or user is a 404. */
export async function summaryOf(
  deps: Pick<DeviceSummaryDeps, 'warehouse' | 'devices'>,
  fleet: FleetScope,
  scope: SummaryScope,
  period: SummaryPeriod,
) {
  if ('userId' in scope && !(await deps.devices.findUser(fleet.sourceId, scope.userId)))
    throw errors.notFound(`device user "${scope.userId}"`)
  if ('deviceId' in scope && !(await deps.devices.findDevice(fleet.sourceId, scope.deviceId)))
    throw errors.notFound(`device "${scope.deviceId}"`)
  return summariseReadings(deps.warehouse, fleet, scope, period)
}

export const MetricSummaries = z.record(z.string(), MetricSummary)

const PERIOD_HELP =
  '`from` (inclusive) and `to` (exclusive): epoch ms, an ISO-8601 date (midnight UTC) or a date-time with a ' +
  'zone; without them, all time. Whole UTC days are read from daily aggregate states, whole hours from hourly ' +
  'ones, and only the partial hours at the ends from raw readings, so any period is exact. Per metric: count, ' +
  'min, max, mean and sum (exact), and ' +
  'median and p95 (t-digest: the value of a reading whose rank is within 1% of the count, at least one ' +
  'reading, of the exact rank; float32, about 7 significant digits).'

const UserId = z.string().min(1).max(64)
const FleetParams = z.object({ id: z.string().min(1).max(64) })

const SummaryResponse = z.object({
  sourceId: z.string(),
  deviceId: z.string().optional(),
  userId: z.string().optional(),
  period: z.object({ from: z.string().nullable(), to: z.string().nullable() }),
  metrics: MetricSummaries,
})

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString())

/** The read API of device fleets: summaries of readings per device, per user, per device of a user. */
export const deviceSummaryRoutes: FastifyPluginAsync<DeviceSummaryDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()

  const answer = async (
    request: FastifyRequest,
    sourceId: string,
    scope: SummaryScope,
    period: SummaryPeriod,
  ) => {
    const { accountId } = await deps.authenticate(request)
    const fleet = await deps.ownedFleet(accountId, sourceId)
    const metrics = await summaryOf(deps, fleet, scope, period)
    return {
      sourceId,
      ...('deviceId' in scope ? { deviceId: scope.deviceId } : {}),
      ...('userId' in scope ? { userId: scope.userId } : {}),
      period: { from: iso(period.from), to: iso(period.to) },
      metrics,
    }
  }

  app.get(
    '/v1/sources/:id/devices/:deviceId/summary',
    {
      schema: {
        tags: ['devices'],
        summary: "Summary of a device's readings per metric, over a period or all time",
        description: `Readings of the device under any owner. ${PERIOD_HELP}`,
        params: FleetParams.extend({ deviceId: DeviceId }),
        querystring: SummaryPeriod,
        response: { 200: SummaryResponse },
      },
    },
    async (request) =>
      answer(
        request,
        request.params.id,
        { kind: 'device', deviceId: request.params.deviceId },
        request.query,
      ),
  )

  app.get(
    '/v1/sources/:id/device-users/:userId/summary',
    {
      schema: {
        tags: ['devices'],
        summary: "Summary of the readings of all a user's devices per metric",
        description: `Readings taken while the user owned the device. ${PERIOD_HELP}`,
        params: FleetParams.extend({ userId: UserId }),
        querystring: SummaryPeriod,
        response: { 200: SummaryResponse },
      },
    },
    async (request) =>
      answer(request, request.params.id, { kind: 'user', userId: request.params.userId }, request.query),
  )

  app.get(
    '/v1/sources/:id/device-users/:userId/devices/:deviceId/summary',
    {
      schema: {
        tags: ['devices'],
        summary: "Summary of one device's readings taken while a user owned it",
        description: PERIOD_HELP,
        params: FleetParams.extend({ userId: UserId, deviceId: DeviceId }),
        querystring: SummaryPeriod,
        response: { 200: SummaryResponse },
      },
    },
    async (request) =>
      answer(
        request,
        request.params.id,
        { kind: 'userDevice', userId: request.params.userId, deviceId: request.params.deviceId },
        request.query,
      ),
  )
}
