import { z } from 'zod'
import { FreeFormArray, FreeFormObject, freeText, identifier } from './wellFormed.ts'

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

/** Identifiers chosen by producers: ids, names, subjects, sessions. Printable, bounded. */
export const producerId = identifier

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

/** An attribute value as a producer sends it: free text, a finite number, or free-form JSON. */
const AttrValueInput = z.union([
  freeText(4096),
  z.number(),
  z.boolean(),
  z.null(),
  FreeFormArray,
  FreeFormObject,
])

const MAX_ATTRS = 128
const attrCount = <T extends object>(attrs: T) => Object.keys(attrs).length <= MAX_ATTRS
const ATTR_COUNT_RULE = { error: `has more than ${MAX_ATTRS} attributes` }

/** Typed properties of an event as the log holds them: names to values. */
export const Attrs = z.record(z.string().min(1).max(128), AttrValue).refine(attrCount, ATTR_COUNT_RULE)
export type Attrs = z.infer<typeof Attrs>

/** Typed properties of an event as a producer sends them: each name an identifier. */
export const AttrsInput = z.record(identifier(128), AttrValueInput).refine(attrCount, ATTR_COUNT_RULE)

/** One event as a producer sends it to `POST /v1/events`. */
export const EventInput = z.strictObject({
  id: producerId(128).optional(),
  name: producerId(200),
  timestamp: EventTime,
  subject: producerId(200).optional(),
  session: producerId(200).optional(),
  /** A grouping above the name, e.g. The Eye's "page interaction". */
  category: producerId(100).optional(),
  attrs: AttrsInput.default({}),
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
