import { z } from 'zod'
import { EventTime, producerId } from './telemetry.ts'

/**
 * Device ids are chosen by the fleet (serial numbers, MAC addresses, UUIDs). They stand in URL
 * paths (`/stats/{device_id}`) and in log record ids (`<device>/<reading>`), hence no `/`.
 */
export const DeviceId = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,128}$/, { error: 'must be 1 to 128 letters, digits, ".", "_", ":" or "-"' })

const METRIC_NAME = /^[A-Za-z0-9_.-]{1,64}$/
export const METRIC_NAME_RULE = 'a metric name must be 1 to 64 letters, digits, ".", "_" or "-"'
export const isMetricName = (name: string) => METRIC_NAME.test(name)
/** Beyond this a reading is a fault, and the float32 digests behind medians would overflow. */
export const MAX_METRIC_MAGNITUDE = 1e30
export const MAX_METRICS_PER_READING = 64

export const MetricValue = z
  .number({ error: 'must be a finite number (not a string, NaN or Infinity)' })
  .refine((value) => Math.abs(value) <= MAX_METRIC_MAGNITUDE, {
    error: `must be between -${MAX_METRIC_MAGNITUDE} and ${MAX_METRIC_MAGNITUDE}`,
  })

/** Named numeric metrics of one reading, e.g. `{"temperature": 21.5, "humidity": 40}`. */
export const Metrics = z.record(z.string(), MetricValue).check((ctx) => {
  const names = Object.keys(ctx.value)
  if (names.length === 0)
    ctx.issues.push({ code: 'custom', message: 'must hold at least one metric', input: ctx.value })
  if (names.length > MAX_METRICS_PER_READING)
    ctx.issues.push({
      code: 'custom',
      message: `must hold at most ${MAX_METRICS_PER_READING} metrics`,
      input: ctx.value,
    })
  for (const name of names) {
    if (!isMetricName(name))
      ctx.issues.push({ code: 'custom', path: [name], message: METRIC_NAME_RULE, input: ctx.value })
  }
})
export type Metrics = z.infer<typeof Metrics>

/** One reading as a device fleet sends it to `POST /v1/readings`. */
export const ReadingInput = z.strictObject({
  /** Idempotency key, unique per device: re-sent readings are counted once. */
  id: producerId(128).optional(),
  deviceId: DeviceId,
  timestamp: EventTime,
  metrics: Metrics,
})
export type ReadingInput = z.input<typeof ReadingInput>

/**
 * A reading as the log holds it. `userId` is the device's owner at the reading's own time
 * (the binding in force at `timestamp`), resolved by ingest; null when nobody owned it.
 */
export const DeviceReading = z.object({
  id: z.string().min(1),
  accountId: z.string().min(1),
  sourceId: z.string().min(1),
  deviceId: z.string().min(1),
  userId: z.string().nullable(),
  timestamp: z.number().int(),
  receivedAt: z.number().int(),
  metrics: z.record(z.string(), z.number()),
})
export type DeviceReading = z.infer<typeof DeviceReading>

/** The log record type of every device reading. Readings go to their fleet's telemetry stream. */
export const DEVICE_READING = 'device.reading'

/** Reading ids are unique per device; the log's ids are unique per stream (the fleet). */
export const readingRecordId = (deviceId: string, readingId: string) => `${deviceId}/${readingId}`
