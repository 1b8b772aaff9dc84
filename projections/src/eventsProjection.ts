import type { LogRecord } from '@hourglass/log'
import { TELEMETRY_EVENT, TelemetryEvent } from '@hourglass/schemas'
import { InvalidLogRecordError, type Projection } from './projection.ts'
import { tables } from './tables.ts'

export interface EventRow {
  account_id: string
  source_id: string
  position: number
  id: string
  name: string
  ts: number
  received_at: number
  subject: string
  session: string
  attrs: string
}

export const toEventRow = (record: LogRecord): EventRow => {
  const parsed = TelemetryEvent.safeParse(record.data)
  if (!parsed.success) throw new InvalidLogRecordError(record.position, parsed.error.message)
  const event = parsed.data
  return {
    account_id: event.accountId,
    source_id: event.sourceId,
    position: record.position,
    id: event.id,
    name: event.name,
    ts: event.timestamp,
    received_at: event.receivedAt,
    subject: event.subject ?? '',
    session: event.session ?? '',
    attrs: JSON.stringify(event.attrs),
  }
}

/**
 * Raw telemetry events, and (through a materialized view) hourly rollups per source,
 * event name and event-time hour: number of events and distinct subjects.
 */
export const eventsProjection: Projection = {
  name: 'events',
  version: 1,
  async apply(records, { insert }) {
    const rows = records.filter((record) => record.type === TELEMETRY_EVENT).map(toEventRow)
    await insert(tables.eventsRaw, rows)
  },
  async reset(warehouse) {
    for (const table of [tables.eventsRaw, tables.rollupHourly]) {
      await warehouse.client.command({ query: `TRUNCATE TABLE IF EXISTS ${warehouse.table(table)}` })
    }
  },
}
