import { z } from 'zod'

export const sourceKinds = ['app', 'store', 'device', 'place', 'site'] as const
export const SourceKind = z.enum(sourceKinds)
export type SourceKind = z.infer<typeof SourceKind>

/** Earliest and latest event times accepted: far outside this range a timestamp is a bug, not an event. */
const MIN_EVENT_TIME = Date.UTC(2000, 0, 1)
const MAX_FUTURE_SKEW_MS = 7 * 24 * 3600 * 1000

const isoDateTime = z.iso.datetime({ offset: true, local: false })

/**
 * Event time as producers send it: an ISO-8601 date-time with a zone (`2026-11-22T10:15:00Z`)
 * or epoch milliseconds. Normalised to epoch milliseconds.
 */
export const EventTime = z
  .union([isoDateTime.transform((s) => Date.parse(s)), z.number().int().nonnegative()], {
    error: 'must be an ISO-8601 date-time with a time zone or epoch milliseconds',
  })
  .refine((ms) => ms >= MIN_EVENT_TIME, { error: 'is before 2000-01-01' })
  .refine((ms) => ms <= Date.now() + MAX_FUTURE_SKEW_MS, { error: 'is more than 7 days in the future' })

const hasControlCharacter = (value: string) => {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if (code < 0x20 || code === 0x7f) return true
  }
  return false
}

/** Identifiers chosen by producers: ids, names, subjects, sessions. Printable, bounded. */
export const producerId = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((value) => !hasControlCharacter(value), { error: 'must not contain control characters' })

/**
 * A value of an event attribute: a scalar, or any JSON object or array (The Eye's `data` is
 * arbitrary JSON). Event definitions type their attributes as scalars; nesting is bounded by
 * the JSON parser's depth limit and the request's size limit.
 */
export const AttrValue = z.union([
  z.string().max(4096),
  z.number(),
  z.boolean(),
  z.null(),
  z.array(z.json()),
  z.record(z.string(), z.json()),
])
/** Typed properties of an event: names to values. */
export const Attrs = z
  .record(z.string().min(1).max(128), AttrValue)
  .refine((a) => Object.keys(a).length <= 128, {
    error: 'has more than 128 attributes',
  })
export type Attrs = z.infer<typeof Attrs>

/** One event as a producer sends it to `POST /v1/events`. */
export const EventInput = z.strictObject({
  id: producerId(128).optional(),
  name: producerId(200),
  timestamp: EventTime,
  subject: producerId(200).optional(),
  session: producerId(200).optional(),
  /** A grouping above the name, e.g. The Eye's "page interaction". */
  category: producerId(100).optional(),
  attrs: Attrs.default({}),
})
export type EventInput = z.input<typeof EventInput>

/** A telemetry event as the log holds it: validated, normalised and stamped by ingest. */
export const TelemetryEvent = z.object({
  id: z.string().min(1),
  accountId: z.string().min(1),
  sourceId: z.string().min(1),
  name: z.string().min(1),
  timestamp: z.number().int(),
  receivedAt: z.number().int(),
  subject: z.string().optional(),
  session: z.string().optional(),
  category: z.string().optional(),
  attrs: z.record(z.string(), AttrValue),
})
export type TelemetryEvent = z.infer<typeof TelemetryEvent>

/** The log record type of every telemetry event. */
export const TELEMETRY_EVENT = 'telemetry.event'

/** Telemetry of one source is one log stream, so its order holds and its ids are unique within it. */
export const telemetryStream = (sourceId: string) => `source-${sourceId}`
