import { describe, expect, it } from 'vitest'
import { QueryTime } from './queryTime.ts'

const ms = (value: string) => QueryTime.safeParse(value)

describe('a time in a query string', () => {
  it('reads dates, date-times and epoch milliseconds, as UTC unless a zone is named', () => {
    expect(ms('2026-02-28')).toEqual({ success: true, data: Date.UTC(2026, 1, 28) })
    expect(ms('2024-02-29')).toEqual({ success: true, data: Date.UTC(2024, 1, 29) })
    expect(ms('2026-02-28T10:15:00Z')).toEqual({ success: true, data: Date.UTC(2026, 1, 28, 10, 15) })
    expect(ms('2026-02-28T10:15:00')).toEqual({ success: true, data: Date.UTC(2026, 1, 28, 10, 15) })
    expect(ms('2026-02-28T10:15')).toEqual({ success: true, data: Date.UTC(2026, 1, 28, 10, 15) })
    expect(ms('2026-02-28T12:15:00.500+02:00')).toEqual({
      success: true,
      data: Date.UTC(2026, 1, 28, 10, 15, 0, 500),
    })
    expect(ms('2026-02-28T12:15:00+0200')).toEqual({ success: true, data: Date.UTC(2026, 1, 28, 10, 15) })
    expect(ms('1795341600000')).toEqual({ success: true, data: 1_795_341_600_000 })
  })

  it('refuses days the calendar does not have, and hours past 23, naming the rule', () => {
    for (const value of [
      '2026-02-31',
      '2026-02-29',
      '2026-04-31T00:00:00Z',
      '2026-13-01',
      '2026-02-28T24:00:00Z',
      '2026-02-28T10:61:00Z',
      'yesterday',
      '',
    ]) {
      const result = ms(value)
      expect(result.success, value).toBe(false)
      expect(result.error?.issues[0]?.message).toMatch(/exists on the calendar/)
    }
  })
})
