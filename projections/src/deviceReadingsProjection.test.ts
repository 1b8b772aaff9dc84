import { DEVICE_READING } from '@hourglass/schemas'
import { describe, expect, it } from 'vitest'
import { toDeviceReadingRows } from './deviceReadingsProjection.ts'
import { InvalidLogRecordError } from './projection.ts'

const record = (data: unknown) => ({
  position: 42,
  stream: 'source-s',
  revision: null,
  id: 'd-1/r-1',
  type: DEVICE_READING,
  data,
  recordedAt: 0,
})

describe('device readings projection', () => {
  it('writes one row per metric value, with the owner the reading was stamped with', () => {
    const rows = toDeviceReadingRows(
      record({
        id: 'r-1',
        accountId: 'a',
        sourceId: 's',
        deviceId: 'd-1',
        userId: null,
        timestamp: 1_000,
        receivedAt: 2_000,
        metrics: { temperature: 21.5, humidity: -0.25 },
      }),
    )
    expect(rows).toEqual([
      expect.objectContaining({ metric: 'temperature', value: 21.5, user_id: '', position: 42, ts: 1_000 }),
      expect.objectContaining({ metric: 'humidity', value: -0.25, device_id: 'd-1', received_at: 2_000 }),
    ])
  })

  it('refuses a record that does not match the reading schema rather than guess', () => {
    expect(() => toDeviceReadingRows(record({ id: 'r-1', metrics: { t: 'x' } }))).toThrow(
      InvalidLogRecordError,
    )
  })
})
