import { z } from 'zod'

const isoDateTime = z.iso.datetime({ offset: true, local: false })

/** Whether `YYYY-MM-DD` names a day of the calendar (no 31 February). */
const isCalendarDate = (date: string) => {
  const [year, month, day] = date.split('-').map(Number) as [number, number, number]
  const parsed = new Date(Date.UTC(year, month - 1, day))
  return parsed.getUTCFullYear() === year && parsed.getUTCMonth() === month - 1 && parsed.getUTCDate() === day
}

/**
 * A period bound in a query string: epoch milliseconds, an ISO-8601 date (midnight UTC), or an
 * ISO-8601 date-time with a zone. Anything else, impossible dates included, is refused.
 */
export const PeriodBound = z
  .string()
  .max(64)
  .transform((value, ctx) => {
    let ms = Number.NaN
    if (/^\d{1,15}$/.test(value)) ms = Number(value)
    else if (/^\d{4}-\d{2}-\d{2}$/.test(value) && isCalendarDate(value)) ms = Date.parse(`${value}T00:00:00Z`)
    else if (isoDateTime.safeParse(value).success && isCalendarDate(value.slice(0, 10)))
      ms = Date.parse(value)
    if (!Number.isFinite(ms)) {
      ctx.addIssue({
        code: 'custom',
        message:
          'must be an ISO-8601 date (2026-11-22), a date-time with a zone (2026-11-22T10:00:00Z) or epoch ms',
      })
      return z.NEVER
    }
    return ms
  })

/** `from` (inclusive) and `to` (exclusive), each optional: without either, the period is all time. */
export const SummaryPeriod = z
  .object({ from: PeriodBound.optional(), to: PeriodBound.optional() })
  .check((ctx) => {
    const { from, to } = ctx.value
    if (from !== undefined && to !== undefined && from > to)
      ctx.issues.push({ code: 'custom', path: ['from'], message: 'must not be after `to`', input: ctx.value })
  })
export type SummaryPeriod = z.output<typeof SummaryPeriod>

const HOUR_MS = 3600_000
const DAY_MS = 24 * HOUR_MS
/** The latest instant a summary looks at: beyond any reading time the schemas accept. */
export const END_OF_TIME = Date.UTC(2100, 0, 1)

/** A half-open range of epoch ms; `from === to` is empty. */
export interface TimeWindow {
  readonly from: number
  readonly to: number
}

/**
 * Where a period's readings are summarised from: whole UTC days inside it from daily states,
 * the whole hours around them from hourly states, and the partial hours at its ends (at most
 * two) from raw readings, so any period is answered exactly and a long one merges few states.
 */
export interface SummaryWindows {
  readonly days: TimeWindow
  readonly hours: readonly [TimeWindow, TimeWindow]
  readonly raw: readonly [TimeWindow, TimeWindow]
}

const EMPTY: TimeWindow = { from: 0, to: 0 }
const window = (from: number, to: number): TimeWindow => (from < to ? { from, to } : EMPTY)
const ceilTo = (ms: number, unit: number) => Math.ceil(ms / unit) * unit
const floorTo = (ms: number, unit: number) => Math.floor(ms / unit) * unit

export function summaryWindows(period: SummaryPeriod): SummaryWindows {
  const from = Math.min(Math.max(period.from ?? 0, 0), END_OF_TIME)
  const to = Math.min(Math.max(period.to ?? END_OF_TIME, 0), END_OF_TIME)
  const hourFrom = ceilTo(from, HOUR_MS)
  const hourTo = floorTo(to, HOUR_MS)
  if (hourFrom >= hourTo) return { days: EMPTY, hours: [EMPTY, EMPTY], raw: [window(from, to), EMPTY] }
  const raw = [window(from, hourFrom), window(hourTo, to)] as const
  const dayFrom = ceilTo(hourFrom, DAY_MS)
  const dayTo = floorTo(hourTo, DAY_MS)
  if (dayFrom >= dayTo) return { days: EMPTY, hours: [window(hourFrom, hourTo), EMPTY], raw }
  return {
    days: window(dayFrom, dayTo),
    hours: [window(hourFrom, dayFrom), window(dayTo, hourTo)],
    raw,
  }
}
