import { theEyeSourceId } from '@hourglass/control'
import { describe, expect, it } from 'vitest'
import { metricaAppSourceId } from './metricaCompatWrites.ts'
import { parseTheEyeTime } from './theEyeCompatWrites.ts'

describe("The Eye's timestamps", () => {
  it.each([
    ['2021-01-01 09:15:27.243860', Date.UTC(2021, 0, 1, 9, 15, 27, 243)],
    ['2021-11-12T12:30:06.902847Z', Date.UTC(2021, 10, 12, 12, 30, 6, 902)],
    ['2021-11-12T12:30:06+02:00', Date.UTC(2021, 10, 12, 10, 30, 6)],
    ['2021-11-12T12:30:06-0130', Date.UTC(2021, 10, 12, 14, 0, 6)],
    ['2021-11-12 12:30', Date.UTC(2021, 10, 12, 12, 30)],
    ['2024-02-29 00:00:00', Date.UTC(2024, 1, 29)],
  ])('reads %s (UTC unless it has a zone)', (text, ms) => {
    expect(parseTheEyeTime(text)).toBe(ms)
  })

  it.each([
    'yesterday',
    '2021-02-31 10:00:00',
    '2023-02-29 10:00',
    '2021-13-01 10:00',
    '2021-01-01 25:00',
    '2021-01-01',
  ])('refuses %s', (text) => {
    expect(parseTheEyeTime(text)).toBeNull()
  })
})

describe('derived source ids', () => {
  it('are UUID-shaped, stable, and differ by account and name', () => {
    const eye = theEyeSourceId('account-1')
    expect(eye).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-b[0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(theEyeSourceId('account-1')).toBe(eye)
    expect(theEyeSourceId('account-2')).not.toBe(eye)
    expect(metricaAppSourceId('account-1', 'shop')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/,
    )
    expect(metricaAppSourceId('account-1', 'shop')).not.toBe(metricaAppSourceId('account-1', 'shop2'))
    expect(metricaAppSourceId('account-1', 'shop')).not.toBe(metricaAppSourceId('account-2', 'shop'))
  })
})
