import type { TelemetryRecord } from '@hourglass/log'
import { DEVICE_READING, DeviceReading } from '@hourglass/schemas'
import { InvalidLogRecordError, type Projection } from './projection.ts'
import { tables } from './tables.ts'
import { truncateTables } from './warehouse/namedStatements.ts'

/** One metric value of one reading, as `device_readings_raw` holds it. */
export interface DeviceReadingRow {
  account_id: string
  source_id: string
  device_id: string
  /** The device's owner at the reading's time; '' when nobody owned it. */
  user_id: string
  metric: string
  ts: number
  value: number
  position: number
  id: string
  received_at: number
}

export const toDeviceReadingRows = (record: TelemetryRecord): DeviceReadingRow[] => {
  const parsed = DeviceReading.safeParse(record.data)
  if (!parsed.success) throw new InvalidLogRecordError(record.position, parsed.error.message)
  const reading = parsed.data
  return Object.entries(reading.metrics).map(([metric, value]) => ({
    account_id: reading.accountId,
    source_id: reading.sourceId,
    device_id: reading.deviceId,
    user_id: reading.userId ?? '',
    metric,
    ts: reading.timestamp,
    value,
    position: record.position,
    id: reading.id,
    received_at: reading.receivedAt,
  }))
}

/**
 * Device readings: one raw row per metric value, and (through materialized views) hourly and
 * daily aggregate states per device, owner and metric — count, min, max, sum and a quantile
 * digest — that summaries over any period merge.
 */
export const deviceReadingsProjection: Projection = {
  name: 'device-readings',
  version: 1,
  appliesInChunks: true,
  async apply(records, { insert }) {
    const rows = records.filter((record) => record.type === DEVICE_READING).flatMap(toDeviceReadingRows)
    await insert(tables.deviceReadingsRaw, rows)
  },
  tables: [tables.deviceReadingsRaw, tables.deviceReadingsHourly, tables.deviceReadingsDaily],
  reset: (warehouse) => truncateTables(warehouse, deviceReadingsProjection.tables),
}
