import { z } from 'zod'

const isoDate = z.iso.date()
const isoDateTime = z.iso.datetime({ offset: true, local: true })
const ZONE = /(Z|[+-]\d{2}:\d{2})$/

/** `+0200` as `+02:00`: ISO-8601's basic offset, in the form the date-time check takes. */
const extendedOffset = (value: string) => value.replace(/(T[\d:.]+[+-]\d{2})(\d{2})$/, '$1:$2')

/** Epoch milliseconds of a query-string time, or NaN. Dates are checked against the calendar. */
function queryTimeMs(value: string): number {
  if (/^\d{1,15}$/.test(value)) return Number(value)
  // A date alone is midnight UTC, as Date.parse reads it.
  if (isoDate.safeParse(value).success) return Date.parse(value)
  const dateTime = extendedOffset(value)
  if (!isoDateTime.safeParse(dateTime).success) return Number.NaN
  // A date-time without a zone is UTC too, whatever the server's time zone.
  return Date.parse(ZONE.test(dateTime) ? dateTime : `${dateTime}Z`)
}

/**
 * A point in time in a query string: an ISO-8601 date or date-time (UTC unless it names a
 * zone), or epoch milliseconds.
 */
export const QueryTime = z.string().transform((value, ctx) => {
  const ms = queryTimeMs(value)
  if (!Number.isFinite(ms)) {
    ctx.addIssue({
      code: 'custom',
      message: 'must be an ISO-8601 date or date-time that exists on the calendar, or epoch milliseconds',
    })
    return z.NEVER
  }
  return ms
})

const DAY_MS = 24 * 3600 * 1000
export const MAX_RANGE_DAYS = 400

/** `from`/`to` with defaults (the last 7 days up to now) and the checks every range query shares. */
export const TimeRange = z
  .object({ from: QueryTime.optional(), to: QueryTime.optional() })
  .transform(({ from, to }) => {
    const end = to ?? Date.now() + 3600_000
    return { from: from ?? end - 7 * DAY_MS, to: end }
  })
  .check((ctx) => {
    const { from, to } = ctx.value
    if (from > to)
      ctx.issues.push({ code: 'custom', path: ['from'], message: 'must not be after `to`', input: ctx.value })
    else if (to - from > MAX_RANGE_DAYS * DAY_MS)
      ctx.issues.push({
        code: 'custom',
        path: ['to'],
        message: `the range must be at most ${MAX_RANGE_DAYS} days`,
        input: ctx.value,
      })
  })
