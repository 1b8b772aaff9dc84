import {
  DeviceId,
  EventTime,
  errors,
  isMetricName,
  MAX_METRICS_PER_READING,
  METRIC_NAME_RULE,
  Metrics,
  MetricValue,
  producerId,
  toFieldIssues,
} from '@hourglass/schemas'
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { creationRoute } from '../admission/admissionControl.ts'
import { authenticateFirst } from '../authenticateFirst.ts'
import {
  authenticateFleetRequest,
  DeviceUserName,
  DeviceUserPassword,
  type DeviceWriteDeps,
} from '../devices/deviceRoutes.ts'
import { readingRecord } from '../devices/readingBatch.ts'

/** Keys of a seed-004 reading that are not metrics. */
const RESERVED = new Set(['timestamp', 'id'])

/**
 * A reading as seed 004's devices send it: a flat object of named numbers (`{"x": 1.5, "y": 2, "z": -3}`),
 * with optional `timestamp` (default: when it arrives) and `id` (idempotency key).
 */
const CompatReading = z
  .object({ timestamp: EventTime.optional(), id: producerId(128).optional() })
  .catchall(MetricValue)
  .check((ctx) => {
    const names = Object.keys(ctx.value).filter((key) => !RESERVED.has(key))
    if (names.length === 0)
      ctx.issues.push({
        code: 'custom',
        message: 'a reading must hold at least one metric',
        input: ctx.value,
      })
    if (names.length > MAX_METRICS_PER_READING)
      ctx.issues.push({
        code: 'custom',
        message: `a reading may hold at most ${MAX_METRICS_PER_READING} metrics`,
        input: ctx.value,
      })
    for (const name of names) {
      if (!isMetricName(name))
        ctx.issues.push({ code: 'custom', path: [name], message: METRIC_NAME_RULE, input: ctx.value })
    }
  })

const CompatReadingAnswer = z.object({
  id: z.string(),
  device_id: z.string(),
  user_id: z.string().nullable(),
  timestamp: z.string(),
  status: z.enum(['accepted', 'duplicate']),
})

/** Seed 004's write endpoints (`/compat/devices`), authenticated with the fleet's API token. */
export const devicesCompatWrites: FastifyPluginAsync<DeviceWriteDeps> = async (
  fastify,
  { log, controlPlane },
) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()
  const fleetToken = authenticateFirst((request) => authenticateFleetRequest(controlPlane, request))

  app.post(
    '/users',
    {
      onRequest: fleetToken.onRequest,
      config: creationRoute,
      schema: {
        tags: ['compat: devices'],
        summary: 'Create a user of the fleet (seed 004); the password is stored hashed with scrypt',
        description: "Authenticated with the device fleet's API token (`Authorization: Bearer hg_…`).",
        body: z.strictObject({ username: DeviceUserName, password: DeviceUserPassword }),
        response: { 201: z.object({ id: z.string(), username: z.string() }) },
      },
    },
    async (request, reply) => {
      const fleet = await fleetToken(request)
      const user = await controlPlane.devices.registerUser(fleet, {
        name: request.body.username,
        password: request.body.password,
      })
      return reply.code(201).send({ id: user.userId, username: user.name })
    },
  )

  app.post(
    '/stats/:device_id',
    {
      onRequest: fleetToken.onRequest,
      schema: {
        tags: ['compat: devices'],
        summary: 'Record a reading of a device (seed 004)',
        description: [
          "Authenticated with the device fleet's API token. The body is a flat object of named finite numbers",
          '(`{"x": 1.5, "y": 2, "z": -3}`), plus optional `timestamp` (ISO-8601 with zone or epoch ms; default:',
          'when it arrives) and `id` (idempotency key: a re-sent id answers 200 and is counted once). The device',
          'must be registered (bound) in the fleet, else 404.',
        ].join(' '),
        params: z.object({ device_id: DeviceId }),
        body: CompatReading,
        response: { 200: CompatReadingAnswer, 201: CompatReadingAnswer },
      },
    },
    async (request, reply) => {
      const fleet = await fleetToken(request)
      const deviceId = request.params.device_id
      const devices = await controlPlane.devices.currentDevices(fleet.sourceId, [deviceId])
      const device = devices.get(deviceId)
      if (!device) throw errors.notFound(`device "${deviceId}"`)
      const receivedAt = Date.now()
      const { timestamp, id, ...rest } = request.body as Record<string, unknown>
      const metrics = Metrics.safeParse(rest)
      if (!metrics.success) throw errors.invalidRequest(toFieldIssues(metrics.error.issues))
      const record = readingRecord(
        device,
        {
          id: id as string | undefined,
          deviceId,
          timestamp: (timestamp as number | undefined) ?? receivedAt,
          metrics: metrics.data,
        },
        receivedAt,
      )
      const [outcome] = await log.appendEvents([record])
      const data = record.data as { id: string; userId: string | null; timestamp: number }
      return reply.code(outcome?.status === 'duplicate' ? 200 : 201).send({
        id: data.id,
        device_id: deviceId,
        user_id: data.userId,
        timestamp: new Date(data.timestamp).toISOString(),
        status: outcome?.status === 'duplicate' ? 'duplicate' : 'accepted',
      })
    },
  )
}
