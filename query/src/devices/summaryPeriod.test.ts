import { describe, expect, it } from 'vitest'
import { END_OF_TIME, PeriodBound, SummaryPeriod, summaryWindows } from './summaryPeriod.ts'

const HOUR = 3600_000
const t = (iso: string) => Date.parse(iso)

describe('period bounds', () => {
  it.each([
    ['1795341600000', 1795341600000],
    ['2026-11-22', t('2026-11-22T00:00:00Z')],
    ['2026-11-22T10:15:00Z', t('2026-11-22T10:15:00Z')],
    ['2026-11-22T10:15:00.250+02:00', t('2026-11-22T08:15:00.250Z')],
  ])('reads %s', (text, ms) => {
    expect(PeriodBound.parse(text)).toBe(ms)
  })

  it.each([
    'yesterday',
    '2026-02-31',
    '2026-02-30T10:00:00Z',
    '2026-13-01',
    '2026-11-22T10:15:00',
    '2026-11-22T25:00:00Z',
    '-5',
    '1e12',
    '',
  ])('refuses %j with the formats it accepts', (text) => {
    const result = PeriodBound.safeParse(text)
    expect(result.success).toBe(false)
    expect(result.error?.issues[0]?.message).toMatch(/ISO-8601 date/)
  })

  it('refuses a period whose start is after its end, on `from`', () => {
    const result = SummaryPeriod.safeParse({ from: '2026-11-22', to: '2026-11-21' })
    expect(result.error?.issues.map((i) => i.path)).toEqual([['from']])
    expect(SummaryPeriod.parse({ from: '5', to: '5' })).toEqual({ from: 5, to: 5 })
    expect(SummaryPeriod.parse({})).toEqual({})
  })
})

describe('summary windows', () => {
  const day = t('2026-11-22T00:00:00Z')
  const DAY = 24 * HOUR
  const none = { from: 0, to: 0 }

  it('reads whole days from daily states, whole hours around them from hourly states, partial hours raw', () => {
    const from = day - 2 * HOUR - 10 * 60_000
    const to = day + 3 * DAY + 5 * HOUR + 1
    expect(summaryWindows({ from, to })).toEqual({
      days: { from: day, to: day + 3 * DAY },
      hours: [
        { from: day - 2 * HOUR, to: day },
        { from: day + 3 * DAY, to: day + 3 * DAY + 5 * HOUR },
      ],
      raw: [
        { from, to: day - 2 * HOUR },
        { from: day + 3 * DAY + 5 * HOUR, to },
      ],
    })
  })

  it('reads only hourly states and raw readings for a period without a whole day', () => {
    const h = day + 10 * HOUR
    expect(summaryWindows({ from: h + 10 * 60_000, to: h + 5 * HOUR + 1 })).toEqual({
      days: none,
      hours: [{ from: h + HOUR, to: h + 5 * HOUR }, none],
      raw: [
        { from: h + 10 * 60_000, to: h + HOUR },
        { from: h + 5 * HOUR, to: h + 5 * HOUR + 1 },
      ],
    })
  })

  it('reads only daily states for a period of whole days, and for all time', () => {
    expect(summaryWindows({ from: day, to: day + 2 * DAY })).toEqual({
      days: { from: day, to: day + 2 * DAY },
      hours: [none, none],
      raw: [none, none],
    })
    expect(summaryWindows({})).toEqual({
      days: { from: 0, to: END_OF_TIME },
      hours: [none, none],
      raw: [none, none],
    })
  })

  it('reads only raw readings for a period within one hour or across one boundary', () => {
    const h = day + 10 * HOUR
    expect(summaryWindows({ from: h + 1, to: h + 2 })).toEqual({
      days: none,
      hours: [none, none],
      raw: [{ from: h + 1, to: h + 2 }, none],
    })
    expect(summaryWindows({ from: h - 1, to: h + 1 }).raw).toEqual([{ from: h - 1, to: h + 1 }, none])
  })

  it('reads nothing for an empty period, and clamps bounds to what the warehouse can hold', () => {
    expect(summaryWindows({ from: day, to: day })).toEqual({
      days: none,
      hours: [none, none],
      raw: [none, none],
    })
    expect(summaryWindows({ from: -HOUR, to: 99_999_999_999_999 }).days).toEqual({ from: 0, to: END_OF_TIME })
  })
})
