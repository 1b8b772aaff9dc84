import type { TelemetryRecord } from '@hourglass/log'
import { parseTelemetryEvent, TELEMETRY_EVENT } from '@hourglass/schemas'
import { eraseFromRollup, type RollupSpec } from './erasure.ts'
import { InvalidLogRecordError, type Projection } from './projection.ts'
import { tables } from './tables.ts'
import { truncateTables } from './warehouse/namedStatements.ts'

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
  /** Absent in rows written before categories existed: the column defaults to ''. */
  category?: string
  attrs: string
}

export const toEventRow = (record: TelemetryRecord): EventRow => {
  const parsed = parseTelemetryEvent(record.data)
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
    category: event.category ?? '',
    attrs: JSON.stringify(event.attrs),
  }
}

/** Raw events and their hourly rollup, as erasure rebuilds it: a person is an event's subject. */
export const eventsRollup: RollupSpec = {
  raw: tables.eventsRaw,
  rollup: tables.rollupHourly,
  personColumn: 'subject',
  scopeColumn: 'source_id',
  aggregate: `account_id, source_id, toStartOfHour(ts) AS hour, name, count() AS events,
    uniqExactStateIf(subject, subject != '') AS subjects, uniqExactStateIf(session, session != '') AS sessions`,
  groupBy: 'account_id, source_id, hour, name',
}

/**
 * Raw telemetry events, and (through a materialized view) hourly rollups per source,
 * event name and event-time hour: number of events and distinct subjects. An erased person's
 * events (they are the subject) are removed and the hours they touched recomputed.
 */
export const eventsProjection: Projection = {
  name: 'events',
  version: 1,
  appliesInChunks: true,
  async apply(records, context) {
    const rows: EventRow[] = []
    for (const record of records) if (record.type === TELEMETRY_EVENT) rows.push(toEventRow(record))
    await context.insert(tables.eventsRaw, rows)
  },
  async erase(erasure, context) {
    await eraseFromRollup(context.warehouse, eventsRollup, erasure, context.ownsScope)
  },
  tables: [tables.eventsRaw, tables.rollupHourly],
  reset: (warehouse) => truncateTables(warehouse, eventsProjection.tables),
}
