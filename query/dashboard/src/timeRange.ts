/** Time ranges and time zones: the API counts in UTC epoch ms, people read local clocks. */

export const HOUR_MS = 3_600_000
export const DAY_MS = 24 * HOUR_MS

export type RangePreset = '24h' | '7d' | '30d' | 'custom'

export const RANGE_PRESETS: readonly { value: RangePreset; label: string }[] = [
  { value: '24h', label: 'Last 24 hours' },
  { value: '7d', label: 'Last 7 days' },
  { value: '30d', label: 'Last 30 days' },
  { value: 'custom', label: 'Custom dates' },
]

export interface RangeChoice {
  readonly preset: RangePreset
  /** For `custom`: first and last day (YYYY-MM-DD, both included) in the chosen zone. */
  readonly fromDate: string
  readonly toDate: string
}

/** A half-open interval [from, to) in epoch ms. */
export interface TimeRange {
  readonly from: number
  readonly to: number
}

/** Milliseconds the zone's clock is ahead of UTC at an instant. */
export function zoneOffset(instant: number, zone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(instant))
  const value = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0)
  const asUtc = Date.UTC(
    value('year'),
    value('month') - 1,
    value('day'),
    value('hour'),
    value('minute'),
    value('second'),
  )
  return asUtc - Math.floor(instant / 1000) * 1000
}

/** The instant a zone's clock reads midnight at the start of a calendar day (YYYY-MM-DD). */
export function startOfDayIn(date: string, zone: string): number {
  const [year, month, day] = date.split('-').map(Number) as [number, number, number]
  const wall = Date.UTC(year, month - 1, day)
  // Two passes settle the offset even on a day the clocks change.
  let instant = wall - zoneOffset(wall, zone)
  instant = wall - zoneOffset(instant, zone)
  return instant
}

/** The calendar day (YYYY-MM-DD) an instant falls on in a zone. */
export function dateIn(instant: number, zone: string): string {
  return new Date(instant + zoneOffset(instant, zone)).toISOString().slice(0, 10)
}

/** The interval a choice stands for at `now`: presets end in the next hour, so the current hour shows. */
export function resolveRange(choice: RangeChoice, zone: string, now: number): TimeRange {
  const end = Math.floor(now / HOUR_MS) * HOUR_MS + HOUR_MS
  switch (choice.preset) {
    case '24h':
      return { from: end - DAY_MS, to: end }
    case '7d':
      return { from: end - 7 * DAY_MS, to: end }
    case '30d':
      return { from: end - 30 * DAY_MS, to: end }
    case 'custom': {
      const from = startOfDayIn(choice.fromDate, zone)
      const to = startOfDayIn(nextDay(choice.toDate), zone)
      return from < to ? { from, to } : { from: to - DAY_MS, to }
    }
  }
}

export const nextDay = (date: string) =>
  new Date(Date.parse(`${date}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10)

/** Every hour start in a range, in epoch seconds (the x values of hourly charts). */
export function hourSlots(range: TimeRange): number[] {
  const slots: number[] = []
  for (let t = Math.floor(range.from / HOUR_MS) * HOUR_MS; t < range.to; t += HOUR_MS) slots.push(t / 1000)
  return slots
}

/** Zones offered: UTC, this browser's, then every zone the browser knows. */
export function zoneChoices(): string[] {
  const local = Intl.DateTimeFormat().resolvedOptions().timeZone
  const all = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : []
  return [...new Set(['UTC', local, ...all])]
}

export function formatDateTime(instant: number | string, zone: string): string {
  return new Intl.DateTimeFormat(undefined, {
    timeZone: zone,
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).format(new Date(instant))
}

/** "12 s ago", "3 min ago", "5 h ago", "2 d ago". */
export function formatAge(instant: number, now: number): string {
  const seconds = Math.max(0, Math.round((now - instant) / 1000))
  if (seconds < 60) return `${seconds} s ago`
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h ago`
  return `${Math.round(seconds / 86_400)} d ago`
}
