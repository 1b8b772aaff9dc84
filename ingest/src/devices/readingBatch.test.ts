import type { Device } from '@hourglass/control'
import { describe, expect, it } from 'vitest'
import { stampReadings } from './readingBatch.ts'

const HOUR = 3600_000
const t0 = Date.UTC(2026, 5, 1)

/** A device bound to ana, then from three hours on to ben. */
const moved: Device = {
  accountId: 'account-1',
  sourceId: 'fleet-1',
  deviceId: 'moved',
  revision: 1,
  bindings: [
    { userId: 'ana', effectiveFrom: t0, at: t0 },
    { userId: 'ben', effectiveFrom: t0 + 3 * HOUR, at: t0 + HOUR },
  ],
}

describe('stamping readings', () => {
  it('given a re-bound device, when readings of either side of the binding arrive late, then each names the owner at its own time', () => {
    const batch = stampReadings(
      [
        { deviceId: 'moved', timestamp: t0 + 3 * HOUR - 1, metrics: { t: 1 } },
        { deviceId: 'moved', timestamp: t0 + 3 * HOUR, metrics: { t: 2 }, id: 'r-2' },
      ],
      new Map([['moved', moved]]),
      t0 + 10 * HOUR,
    )
    expect(batch.records.map((r) => (r.data as { userId: string }).userId)).toEqual(['ana', 'ben'])
    expect(batch.records[1]).toMatchObject({ id: 'moved/r-2', type: 'device.reading' })
    expect(batch.indexes).toEqual([0, 1])
    expect(batch.rejected).toEqual([])
  })

  it('given a device the fleet has not registered, when its reading arrives, then it alone is rejected naming its deviceId', () => {
    const batch = stampReadings(
      [
        { deviceId: 'moved', timestamp: t0, metrics: { t: 1 } },
        { deviceId: 'ghost', timestamp: t0, metrics: { t: 3 } },
      ],
      new Map([['moved', moved]]),
      t0 + HOUR,
    )
    expect(batch.indexes).toEqual([0])
    expect(batch.rejected).toEqual([
      {
        index: 1,
        issues: [{ path: 'readings[1].deviceId', message: expect.stringMatching(/not registered/) }],
      },
    ])
  })
})
