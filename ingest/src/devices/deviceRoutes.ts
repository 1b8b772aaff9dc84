import {
  authenticateFirst,
  authenticateFleetRequest,
  authenticateUser,
  type ControlPlane,
  creationRoute,
  currentOwner,
  type Device,
  ownedFleet,
  type UserTokens,
} from '@hourglass/control'
import type { TelemetryLog } from '@hourglass/log'
import { DeviceId, EventTime, errors, HourglassError, identifier, trimmedName } from '@hourglass/schemas'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { EVENTS_BODY_LIMIT } from '../ingestRoutes.ts'
import { describeReadings, ReadingBatchBody, ReadingResult, stampReadings } from './readingBatch.ts'

export interface DeviceWriteDeps {
  readonly telemetry: TelemetryLog
  readonly controlPlane: ControlPlane
  readonly userTokens: UserTokens
}

export const DeviceView = z.object({
  id: z.string(),
  /** The current owner; null when nobody owns the device. */
  owner: z.string().nullable(),
  bindings: z.array(
    z.object({ userId: z.string().nullable(), effectiveFrom: z.string(), boundAt: z.string() }),
  ),
})
export const deviceView = (device: Device): z.infer<typeof DeviceView> => ({
  id: device.deviceId,
  owner: currentOwner(device),
  bindings: device.bindings.map((b) => ({
    userId: b.userId,
    effectiveFrom: new Date(b.effectiveFrom).toISOString(),
    boundAt: new Date(b.at).toISOString(),
  })),
})

export const DeviceUserName = trimmedName(200)
export const DeviceUserPassword = z.string().min(8, { error: 'must be at least 8 characters' }).max(256)

const FleetParams = z.object({ id: z.string().min(1).max(64) })
const DeviceParams = FleetParams.extend({ deviceId: DeviceId })
const UserView = z.object({ id: z.string(), name: z.string(), createdAt: z.string() })
const ReadingsResponse = z.object({
  accepted: z.number(),
  duplicates: z.number(),
  rejected: z.number(),
  results: z.array(ReadingResult),
})

/** The write API of device fleets: users, device bindings (account token) and readings (fleet token). */
export const deviceRoutes: FastifyPluginAsync<DeviceWriteDeps> = async (
  fastify,
  { telemetry, controlPlane, userTokens },
) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()
  const account = authenticateFirst((request) => authenticateUser(userTokens, request))
  const fleetToken = authenticateFirst((request) => authenticateFleetRequest(controlPlane, request))
  const fleetOf = async (request: FastifyRequest, sourceId: string) => {
    const { accountId } = await account(request)
    return ownedFleet(controlPlane, accountId, sourceId)
  }

  app.post(
    '/v1/sources/:id/device-users',
    {
      onRequest: account.onRequest,
      config: creationRoute,
      schema: {
        tags: ['devices'],
        summary: 'Create a user of a device fleet (the password is stored hashed with scrypt)',
        params: FleetParams,
        body: z.strictObject({ name: DeviceUserName, password: DeviceUserPassword }),
        response: { 201: UserView },
      },
    },
    async (request, reply) => {
      const fleet = await fleetOf(request, request.params.id)
      const user = await controlPlane.devices.registerUser(fleet, request.body)
      request.log.info({ sourceId: fleet.sourceId, userId: user.userId }, 'device user registered')
      return reply
        .code(201)
        .send({ id: user.userId, name: user.name, createdAt: new Date(user.createdAt).toISOString() })
    },
  )

  app.delete(
    '/v1/sources/:id/device-users/:userId',
    {
      onRequest: account.onRequest,
      schema: {
        tags: ['devices'],
        summary: 'Erase a user of a device fleet: their name becomes unreadable and they no longer sign in',
        params: FleetParams.extend({ userId: z.string().min(1).max(64) }),
        response: { 204: z.null() },
      },
    },
    async (request, reply) => {
      const fleet = await fleetOf(request, request.params.id)
      await controlPlane.devices.eraseUser(fleet, request.params.userId)
      request.log.info({ sourceId: fleet.sourceId, userId: request.params.userId }, 'device user erased')
      return reply.code(204).send(null)
    },
  )

  app.put(
    '/v1/sources/:id/devices/:deviceId/owner',
    {
      onRequest: account.onRequest,
      schema: {
        tags: ['devices'],
        summary: 'Bind a device to a user of its fleet, or to nobody (registers the device)',
        description: [
          'A device belongs to at most one user at a time. `userId` null unbinds it. `effectiveFrom`',
          '(ISO-8601 with zone or epoch ms; default: now) is when the binding takes effect: each reading is',
          "attributed to the binding in force at the reading's own timestamp, so late readings keep the owner",
          'they had when they were taken. It may not precede the current binding (409), and readings already',
          'received are never re-attributed. Binding to the current owner changes nothing.',
        ].join(' '),
        params: DeviceParams,
        body: z.strictObject({
          userId: identifier(64).nullable(),
          effectiveFrom: EventTime.optional(),
        }),
        response: { 200: DeviceView },
      },
    },
    async (request) => {
      const fleet = await fleetOf(request, request.params.id)
      const device = await controlPlane.devices.bindDevice(fleet, request.params.deviceId, {
        userId: request.body.userId,
        effectiveFrom: request.body.effectiveFrom ?? Date.now(),
      })
      return deviceView(device)
    },
  )

  app.get(
    '/v1/sources/:id/devices/:deviceId',
    {
      onRequest: account.onRequest,
      schema: {
        tags: ['devices'],
        summary: 'A registered device: its current owner and binding history',
        params: DeviceParams,
        response: { 200: DeviceView },
      },
    },
    async (request) => {
      const fleet = await fleetOf(request, request.params.id)
      const device = await controlPlane.devices.findDevice(fleet.sourceId, request.params.deviceId)
      if (!device) throw errors.notFound(`device "${request.params.deviceId}"`)
      return deviceView(device)
    },
  )

  app.post(
    '/v1/readings',
    {
      bodyLimit: EVENTS_BODY_LIMIT,
      onRequest: fleetToken.onRequest,
      schema: {
        tags: ['devices'],
        summary: 'Send device readings (1 to 1,000, at most 1 MiB) with the fleet API token',
        description: [
          'Each reading: `deviceId` (a device registered in the fleet by binding it), `timestamp` (ISO-8601',
          'with zone, or epoch ms), `metrics` (1 to 64 named finite numbers, |value| ≤ 1e30, e.g.',
          '`{"temperature": 21.5}`), optional `id` (idempotency key per device: re-sent ids are reported as',
          '`duplicate` and counted once). Each reading is stamped with the owner of its device at its timestamp.',
          'If any reading is invalid nothing is appended (400); with `?partial=true` the valid ones are (207).',
        ].join(' '),
        querystring: z.object({ partial: z.enum(['true', 'false']).default('false') }),
        body: ReadingBatchBody,
        response: { 200: ReadingsResponse, 207: ReadingsResponse },
      },
    },
    async (request, reply) => {
      const fleet = await fleetToken(request)
      const { readings } = request.body
      const deviceIds = new Set<string>()
      for (const reading of readings) {
        const deviceId = (reading as { deviceId?: unknown } | null)?.deviceId
        if (typeof deviceId === 'string') deviceIds.add(deviceId)
      }
      const devices = await controlPlane.devices.currentDevices(fleet.sourceId, deviceIds)
      const batch = stampReadings(readings, devices, Date.now())
      if (batch.rejected.length > 0 && request.query.partial !== 'true') {
        const first = batch.rejected[0]!.issues[0]
        throw new HourglassError(
          'READINGS_REJECTED',
          `${batch.rejected.length} of ${readings.length} readings are invalid, nothing was appended` +
            (first ? ` (first: ${first.path}: ${first.message})` : ''),
          {
            issues: batch.rejected.flatMap((r) => r.issues),
            results: describeReadings(batch, null, readings.length),
          },
        )
      }
      const outcomes = await telemetry.appendEvents(batch.records)
      const duplicates = outcomes.filter((o) => o.status === 'duplicate').length
      return reply.code(batch.rejected.length > 0 ? 207 : 200).send({
        accepted: outcomes.length - duplicates,
        duplicates,
        rejected: batch.rejected.length,
        results: describeReadings(batch, outcomes, readings.length),
      })
    },
  )
}
