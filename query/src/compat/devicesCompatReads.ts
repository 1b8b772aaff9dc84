import { DeviceId, errors } from '@hourglass/schemas'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import {
  type DeviceDirectory,
  type FleetScope,
  MetricSummaries,
  summaryOf,
} from '../devices/deviceSummaryRoutes.ts'
import { SummaryPeriod } from '../devices/summaryPeriod.ts'
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
  '`from` (inclusive) and `to` (exclusive), optional: epoch ms, an ISO-8601 date or a date-time with a zone; ' +
  'without them, all time. Per metric: count, min, max, mean, sum, and median and p95 (t-digest, within 1% ' +
  'of the readings in rank).'

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
        querystring: SummaryPeriod,
        response: { 200: MetricSummaries },
      },
    },
    async (request) => {
      const fleet = await deps.authenticateFleet(request)
      return summaryOf(deps, fleet, { kind: 'device', deviceId: request.params.device_id }, request.query)
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
        querystring: SummaryPeriod,
        response: { 200: MetricSummaries },
      },
    },
    async (request) => {
      const fleet = await fleetForUser(request, request.params.user_id)
      return summaryOf(deps, fleet, { kind: 'user', userId: request.params.user_id }, request.query)
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
        querystring: SummaryPeriod,
        response: { 200: MetricSummaries },
      },
    },
    async (request) => {
      const { user_id: userId, device_id: deviceId } = request.params
      const fleet = await fleetForUser(request, userId)
      return summaryOf(deps, fleet, { kind: 'userDevice', userId, deviceId }, request.query)
    },
  )
}
