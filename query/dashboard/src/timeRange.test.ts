import { describe, expect, it } from 'vitest'
import { dateIn, HOUR_MS, hourSlots, resolveRange, startOfDayIn, zoneOffset } from './timeRange.ts'

describe('time ranges in a time zone', () => {
  it('knows the offset of a zone, daylight saving included', () => {
    expect(zoneOffset(Date.UTC(2026, 0, 15, 12), 'UTC')).toBe(0)
    expect(zoneOffset(Date.UTC(2026, 0, 15, 12), 'Europe/Berlin')).toBe(HOUR_MS)
    expect(zoneOffset(Date.UTC(2026, 6, 15, 12), 'Europe/Berlin')).toBe(2 * HOUR_MS)
    expect(zoneOffset(Date.UTC(2026, 6, 15, 12), 'Asia/Kolkata')).toBe(5.5 * HOUR_MS)
  })

  it('finds local midnight, also on the day the clocks go forward', () => {
    expect(startOfDayIn('2026-11-22', 'UTC')).toBe(Date.UTC(2026, 10, 22))
    expect(startOfDayIn('2026-11-22', 'America/New_York')).toBe(Date.UTC(2026, 10, 22, 5))
    expect(startOfDayIn('2026-03-29', 'Europe/Berlin')).toBe(Date.UTC(2026, 2, 28, 23))
    expect(dateIn(Date.UTC(2026, 10, 22, 23, 30), 'Asia/Tokyo')).toBe('2026-11-23')
  })

  it('resolves presets to whole hours ending after now, and custom days in the zone', () => {
    const now = Date.UTC(2026, 10, 22, 10, 17)
    expect(resolveRange({ preset: '24h', fromDate: '', toDate: '' }, 'UTC', now)).toEqual({
      from: Date.UTC(2026, 10, 21, 11),
      to: Date.UTC(2026, 10, 22, 11),
    })
    expect(
      resolveRange({ preset: 'custom', fromDate: '2026-11-01', toDate: '2026-11-02' }, 'Europe/Berlin', now),
    ).toEqual({ from: Date.UTC(2026, 9, 31, 23), to: Date.UTC(2026, 10, 2, 23) })
  })

  it('lays out one slot per hour', () => {
    const slots = hourSlots({ from: Date.UTC(2026, 0, 1), to: Date.UTC(2026, 0, 31) })
    expect(slots).toHaveLength(720)
    expect(slots[1]! - slots[0]!).toBe(3600)
  })
})
