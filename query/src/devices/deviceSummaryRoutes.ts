import { DeviceId, errors } from '@hourglass/schemas'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { sendJson } from '../jsonAnswer.ts'
import { answerKey, cachedAnswer, ceilHour, floorHour, type ReadCache } from '../readCache.ts'
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
  /** Answers kept until the projections of this process write what they read. */
  readonly readCache?: ReadCache
}

/** An unknown device or user of the fleet is a 404. */
async function expectInFleet(devices: DeviceDirectory, fleet: FleetScope, scope: SummaryScope) {
  if ('userId' in scope && !(await devices.findUser(fleet.sourceId, scope.userId)))
    throw errors.notFound(`device user "${scope.userId}"`)
  if ('deviceId' in scope && !(await devices.findDevice(fleet.sourceId, scope.deviceId)))
    throw errors.notFound(`device "${scope.deviceId}"`)
}

/** Summaries of a scope that exists in the fleet: an unknown device or user is a 404. */
export async function summaryOf(
  deps: Pick<DeviceSummaryDeps, 'warehouse' | 'devices'>,
  fleet: FleetScope,
  scope: SummaryScope,
  period: SummaryPeriod,
) {
  await expectInFleet(deps.devices, fleet, scope)
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
    request: FastifyRequest & { readonly params: { id: string }; readonly query: SummaryPeriod },
    reply: FastifyReply,
    scope: SummaryScope,
  ) => {
    const { id: sourceId } = request.params
    const period = request.query
    const { accountId } = await deps.authenticate(request)
    const fleet = await deps.ownedFleet(accountId, sourceId)
    await expectInFleet(deps.devices, fleet, scope)
    const key = answerKey('deviceSummary', accountId, { sourceId, scope, from: period.from, to: period.to })
    const json = await cachedAnswer(deps.readCache, key, async () => {
      const summary: z.infer<typeof SummaryResponse> = {
        sourceId,
        ...('deviceId' in scope ? { deviceId: scope.deviceId } : {}),
        ...('userId' in scope ? { userId: scope.userId } : {}),
        period: { from: iso(period.from), to: iso(period.to) },
        metrics: await summariseReadings(deps.warehouse, fleet, scope, period),
      }
      const dependsOn = {
        accountId,
        sourceId,
        fromHour: floorHour(period.from ?? 0),
        toHour: period.to === undefined ? Number.POSITIVE_INFINITY : ceilHour(period.to),
      }
      return { json: JSON.stringify(summary), scope: dependsOn }
    })
    return sendJson(reply, json)
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
    async (request, reply) => answer(request, reply, { kind: 'device', deviceId: request.params.deviceId }),
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
    async (request, reply) => answer(request, reply, { kind: 'user', userId: request.params.userId }),
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
    async (request, reply) =>
      answer(request, reply, {
        kind: 'userDevice',
        userId: request.params.userId,
        deviceId: request.params.deviceId,
      }),
  )
}
