import { authenticateFirst, authenticateFleetRequest, creationRoute } from '@hourglass/control'
import {
  DeviceId,
  EventTime,
  errors,
  type FieldIssue,
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
import { allowEmptyJsonBody } from '../apps/appAnalyticsWriteRoutes.ts'
import { DeviceUserName, DeviceUserPassword, type DeviceWriteDeps } from '../devices/deviceRoutes.ts'
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

/** A field of `POST /users`, from the JSON body or the query string (the original took both). */
const UserFields = {
  username: DeviceUserName.optional(),
  email: z.email({ error: 'must be an e-mail address' }).max(254).optional(),
  password: DeviceUserPassword.optional(),
}
type UserFields = { username?: string | undefined; email?: string | undefined; password?: string | undefined }

/** The user's fields, each given once, in the body or in the query string; username and password are required. */
const userInput = (body: UserFields | null | undefined, query: UserFields) => {
  const issues: FieldIssue[] = []
  const field = (name: keyof UserFields) => {
    const [inBody, inQuery] = [body?.[name], query[name]]
    if (inBody !== undefined && inQuery !== undefined)
      issues.push({ path: name, message: 'is given both in the body and in the query string: give it once' })
    return inBody ?? inQuery
  }
  const [username, email, password] = [field('username'), field('email'), field('password')]
  if (username === undefined) issues.push({ path: 'username', message: 'is required' })
  if (password === undefined) issues.push({ path: 'password', message: 'is required' })
  if (issues.length > 0 || username === undefined || password === undefined)
    throw errors.invalidRequest(issues)
  return { username, email, password }
}

/** Seed 004's write endpoints (`/compat/devices`), authenticated with the fleet's API token. */
export const devicesCompatWrites: FastifyPluginAsync<DeviceWriteDeps> = async (
  fastify,
  { telemetry, controlPlane },
) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()
  const fleetToken = authenticateFirst((request) => authenticateFleetRequest(controlPlane, request))

  app.post(
    '/users',
    {
      onRequest: [fleetToken.onRequest, allowEmptyJsonBody],
      config: creationRoute,
      schema: {
        tags: ['compat: devices'],
        summary: 'Create a user of the fleet (seed 004); the password is stored hashed with scrypt',
        description: [
          "Authenticated with the device fleet's API token (`Authorization: Bearer hg_…`). `username`, `password`",
          '(8 characters at least) and optional `email`, as a JSON body or as query parameters (as the original',
          'took them; a query string may end up in proxy logs, so prefer the body). The e-mail address is checked',
          'and answered back, not kept: Hourglass keeps no personal data of device users beyond their name.',
        ].join(' '),
        // No body at all is fine when the fields are in the query string.
        body: z.strictObject(UserFields).nullish(),
        querystring: z.strictObject(UserFields),
        response: {
          201: z.object({ id: z.string(), username: z.string(), email: z.string().optional() }),
        },
      },
    },
    async (request, reply) => {
      const fleet = await fleetToken(request)
      const { username, email, password } = userInput(request.body, request.query)
      const user = await controlPlane.devices.registerUser(fleet, { name: username, password })
      return reply
        .code(201)
        .send({ id: user.userId, username: user.name, ...(email === undefined ? {} : { email }) })
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
          'when it arrives) and `id` (idempotency key: a re-sent id answers 200 and is counted once). A device the',
          'fleet does not know joins it with its first reading. `?user_id=<id>` binds the device to that user of',
          'the fleet: a new device from the start, a device nobody owns from this reading on; a device owned by',
          'another user at the reading time is a 409 and nothing is recorded.',
        ].join(' '),
        params: z.object({ device_id: DeviceId }),
        querystring: z.strictObject({ user_id: z.string().min(1).max(64).optional() }),
        body: CompatReading,
        response: { 200: CompatReadingAnswer, 201: CompatReadingAnswer },
      },
    },
    async (request, reply) => {
      const fleet = await fleetToken(request)
      const deviceId = request.params.device_id
      const receivedAt = Date.now()
      const {
        timestamp = receivedAt,
        id,
        ...rest
      } = request.body as Record<string, unknown> & {
        timestamp?: number
        id?: string
      }
      const metrics = Metrics.safeParse(rest)
      if (!metrics.success) throw errors.invalidRequest(toFieldIssues(metrics.error.issues))
      const device = await controlPlane.devices.deviceForReading(fleet, deviceId, {
        userId: request.query.user_id,
        timestamp,
      })
      const record = readingRecord(device, { id, deviceId, timestamp, metrics: metrics.data }, receivedAt)
      const [outcome] = await telemetry.appendEvents([record])
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
