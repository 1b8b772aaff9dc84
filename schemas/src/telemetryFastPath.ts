import type { z } from 'zod'
import { EventInput, EventTime, TelemetryEvent } from './telemetry.ts'
import { textFault } from './wellFormed.ts'

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

/** A producer identifier as `producerId(max)` accepts it: 1 to `max` characters, by the rule for names. */
const isProducerId = (value: unknown, max: number): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= max && textFault(value, 'name') < 0

const optionalProducerId = (value: unknown, max: number) => value === undefined || isProducerId(value, max)

/**
 * Scalar attributes only: nested JSON values are left to the schema. A producer's attributes
 * (`asSent`) are held to the rule for input: names are names, strings free text.
 */
const scalarAttrs = (
  value: unknown,
  asSent: boolean,
): value is Record<string, string | number | boolean | null> => {
  if (!isPlainObject(value)) return false
  let count = 0
  for (const key in value) {
    if (!Object.hasOwn(value, key)) return false
    if (++count > MAX_ATTRS || key.length === 0 || key.length > 128) return false
    if (asSent && textFault(key, 'name') >= 0) return false
    const attr = value[key]
    if (attr === null || typeof attr === 'boolean') continue
    if (typeof attr === 'number') {
      if (!Number.isFinite(attr)) return false
      continue
    }
    if (typeof attr !== 'string' || attr.length > 4096) return false
    if (asSent && textFault(attr, 'text') >= 0) return false
  }
  return true
}

const viaSchema = (value: string) => {
  const parsed = EventTime.safeParse(value)
  return parsed.success ? parsed.data : undefined
}

/** The number written by `count` decimal digits from `from`, or -1 if any is not a digit. */
const digitsAt = (text: string, from: number, count: number): number => {
  let n = 0
  for (let i = from; i < from + count; i++) {
    const digit = text.charCodeAt(i) - 48
    if (digit < 0 || digit > 9) return -1
    n = n * 10 + digit
  }
  return n
}

const isLeapYear = (year: number) => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/**
 * `YYYY-MM-DDTHH:MM:SS.sssZ`, the form `Date#toISOString` writes (most producers send it), read
 * by hand: its epoch ms when it is exactly that form of a real date-time from year 100 on, else NaN.
 */
const isoUtcMillis = (value: string): number => {
  if (
    value.length !== 24 ||
    value.charCodeAt(4) !== 45 /* - */ ||
    value.charCodeAt(7) !== 45 ||
    value.charCodeAt(10) !== 84 /* T */ ||
    value.charCodeAt(13) !== 58 /* : */ ||
    value.charCodeAt(16) !== 58 ||
    value.charCodeAt(19) !== 46 /* . */ ||
    value.charCodeAt(23) !== 90 /* Z */
  )
    return Number.NaN
  const year = digitsAt(value, 0, 4)
  const month = digitsAt(value, 5, 2)
  const day = digitsAt(value, 8, 2)
  const hour = digitsAt(value, 11, 2)
  const minute = digitsAt(value, 14, 2)
  const second = digitsAt(value, 17, 2)
  const millis = digitsAt(value, 20, 3)
  if (year < 100 || month < 1 || month > 12 || day < 1 || hour < 0 || minute < 0 || second < 0 || millis < 0)
    return Number.NaN
  const monthDays = month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1]!
  if (day > monthDays || hour > 23 || minute > 59 || second > 59) return Number.NaN
  return Date.UTC(year, month - 1, day, hour, minute, second, millis)
}

const eventTime = (value: unknown): number | undefined => {
  let ms: number
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) return undefined
    ms = value
  } else if (typeof value === 'string') {
    // Any other form is left to the schema.
    const parsed = isoUtcMillis(value)
    if (Number.isNaN(parsed)) return viaSchema(value)
    ms = parsed
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
      (raw.attrs === undefined || scalarAttrs(raw.attrs, true))
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
    scalarAttrs(data.attrs, false)
  ) {
    return { success: true, data: data as unknown as TelemetryEvent } as TelemetryEventResult
  }
  return TelemetryEvent.safeParse(data)
}
