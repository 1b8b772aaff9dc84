import type { z } from 'zod'
import { EventInput, EventTime, TelemetryEvent } from './telemetry.ts'

/**
 * Plain checks for the common shape of an event, ahead of the zod schemas they mirror. Events
 * arrive a hundred to a request and every one is checked twice (at ingest, and again by each
 * projection that reads it from the log), so the schemas' generality costs more than anything
 * else ingest does. A plain check only ever says "valid, and this is the value the schema would
 * give" or "not sure": every event it is not sure of goes through the schema, which gives the
 * same answer as before, with its messages. The tests hold both paths to the same results.
 */

const EVENT_INPUT_KEYS = new Set(['id', 'name', 'timestamp', 'subject', 'session', 'category', 'attrs'])
const MIN_EVENT_TIME = Date.UTC(2000, 0, 1)
const MAX_FUTURE_SKEW_MS = 7 * 24 * 3600 * 1000
const MAX_ATTRS = 128

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** A producer identifier as `producerId(max)` accepts it: 1 to `max` characters, none a control character. */
const isProducerId = (value: unknown, max: number): value is string => {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) return false
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if (code < 0x20 || code === 0x7f) return false
  }
  return true
}

const optionalProducerId = (value: unknown, max: number) => value === undefined || isProducerId(value, max)

/** Scalar attributes only: nested JSON values are left to the schema. */
const scalarAttrs = (value: unknown): value is Record<string, string | number | boolean | null> => {
  if (!isPlainObject(value)) return false
  let count = 0
  for (const key in value) {
    if (!Object.hasOwn(value, key)) return false
    if (++count > MAX_ATTRS || key.length === 0 || key.length > 128) return false
    const attr = value[key]
    if (attr === null || typeof attr === 'boolean') continue
    if (typeof attr === 'number') {
      if (!Number.isFinite(attr)) return false
      continue
    }
    if (typeof attr !== 'string' || attr.length > 4096) return false
  }
  return true
}

const viaSchema = (value: string) => {
  const parsed = EventTime.safeParse(value)
  return parsed.success ? parsed.data : undefined
}

const eventTime = (value: unknown): number | undefined => {
  let ms: number
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) return undefined
    ms = value
  } else if (typeof value === 'string') {
    // The form `Date#toISOString` writes (most producers send it): it is a real UTC date-time
    // exactly when it survives the round trip. Any other form is left to the schema.
    if (value.length === 24 && value.charCodeAt(23) === 90 /* Z */) {
      const parsed = Date.parse(value)
      if (Number.isFinite(parsed) && new Date(parsed).toISOString() === value) ms = parsed
      else return viaSchema(value)
    } else return viaSchema(value)
  } else return undefined
  return ms >= MIN_EVENT_TIME && ms <= Date.now() + MAX_FUTURE_SKEW_MS ? ms : undefined
}

type EventInputResult = ReturnType<typeof EventInput.safeParse>

/** `EventInput.safeParse`, with a plain check for the usual event first. */
export function parseEventInput(raw: unknown): EventInputResult {
  if (isPlainObject(raw)) {
    let known = true
    for (const key in raw) {
      if (!EVENT_INPUT_KEYS.has(key) || !Object.hasOwn(raw, key)) {
        known = false
        break
      }
    }
    const timestamp = known ? eventTime(raw.timestamp) : undefined
    if (
      timestamp !== undefined &&
      isProducerId(raw.name, 200) &&
      optionalProducerId(raw.id, 128) &&
      optionalProducerId(raw.subject, 200) &&
      optionalProducerId(raw.session, 200) &&
      optionalProducerId(raw.category, 100) &&
      (raw.attrs === undefined || scalarAttrs(raw.attrs))
    ) {
      const data: z.output<typeof EventInput> = {
        name: raw.name as string,
        timestamp,
        attrs:
          raw.attrs === undefined
            ? {}
            : // The request's own object, freshly parsed and owned by nothing else: no copy.
              (raw.attrs as Record<string, string | number | boolean | null>),
      }
      if (raw.id !== undefined) data.id = raw.id as string
      if (raw.subject !== undefined) data.subject = raw.subject as string
      if (raw.session !== undefined) data.session = raw.session as string
      if (raw.category !== undefined) data.category = raw.category as string
      return { success: true, data } as EventInputResult
    }
  }
  return EventInput.safeParse(raw)
}

type TelemetryEventResult = ReturnType<typeof TelemetryEvent.safeParse>

const optionalString = (value: unknown) => value === undefined || typeof value === 'string'
const nonEmptyString = (value: unknown): value is string => typeof value === 'string' && value.length > 0

/** `TelemetryEvent.safeParse` for a record read back from the log, with a plain check first. */
export function parseTelemetryEvent(data: unknown): TelemetryEventResult {
  if (
    isPlainObject(data) &&
    nonEmptyString(data.id) &&
    nonEmptyString(data.accountId) &&
    nonEmptyString(data.sourceId) &&
    nonEmptyString(data.name) &&
    Number.isSafeInteger(data.timestamp) &&
    Number.isSafeInteger(data.receivedAt) &&
    optionalString(data.subject) &&
    optionalString(data.session) &&
    optionalString(data.category) &&
    scalarAttrs(data.attrs)
  ) {
    return { success: true, data: data as unknown as TelemetryEvent } as TelemetryEventResult
  }
  return TelemetryEvent.safeParse(data)
}
