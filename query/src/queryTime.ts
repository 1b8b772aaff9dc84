import { z } from 'zod'

/** A point in time in a query string: ISO-8601 (date or date-time) or epoch milliseconds. */
export const QueryTime = z.string().transform((value, ctx) => {
  const ms = /^\d{1,15}$/.test(value)
    ? Number(value)
    : /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)
      ? Date.parse(value)
      : Number.NaN
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: 'must be an ISO-8601 date or date-time, or epoch milliseconds' })
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
