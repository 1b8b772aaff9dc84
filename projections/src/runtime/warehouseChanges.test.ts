import type { TelemetryRecord } from '@hourglass/log'
import { describe, expect, it } from 'vitest'
import { changeOf } from './warehouseChanges.ts'

const HOUR = 3600_000
const record = (stream: string, data: unknown, position = 0): TelemetryRecord => ({
  position,
  stream,
  id: `r${position}`,
  type: 'telemetry.event',
  data,
  recordedAt: 0,
})

describe('changeOf', () => {
  it('names the event-time hours of each source a batch of telemetry writes', () => {
    const t = Date.UTC(2026, 2, 1, 13, 20)
    const change = changeOf([
      record('source-a', { accountId: 'acc', timestamp: t }),
      record('source-a', { accountId: 'acc', timestamp: t + 50 * 60_000 }),
      record('source-b', { accountId: 'acc', timestamp: t - 2 * HOUR }),
      record('source-c', { accountId: 'other', timestamp: t }),
    ])
    expect(change.everything).toBe(false)
    const hour = Date.UTC(2026, 2, 1, 13)
    expect([...change.hours.get('acc')!.get('a')!]).toEqual([hour, hour + HOUR])
    expect([...change.hours.get('acc')!.get('b')!]).toEqual([hour - 2 * HOUR])
    expect([...change.hours.get('other')!.get('c')!]).toEqual([hour])
  })

  it('says everything may change for a record outside a source or without an event time', () => {
    expect(changeOf([record('account-x', { accountId: 'acc' })]).everything).toBe(true)
    expect(changeOf([record('source-a', { accountId: 'acc' })]).everything).toBe(true)
    expect(
      changeOf([record('source-a', { accountId: 'acc', timestamp: 1 }), record('person-p', {})]).everything,
    ).toBe(true)
  })
})
