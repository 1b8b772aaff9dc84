import type { TelemetryRecord } from '@hourglass/log'
import { STORE_EVENT, StoreEvent } from '@hourglass/schemas'
import { z } from 'zod'
import { countErased, type Erasure, eraseFromRollup, type RollupSpec } from './erasure.ts'
import {
  type ErasureContext,
  type ErasureReportContext,
  InvalidLogRecordError,
  type Projection,
} from './projection.ts'
import { tables } from './tables.ts'
import { defineQuery, truncateTables } from './warehouse/namedStatements.ts'

interface StoreEventRow {
  account_id: string
  store_id: string
  position: number
  person_id: string
  type: string
  ts: number
  duration: number | null
  data: string
}

const toRow = (record: TelemetryRecord): StoreEventRow => {
  const parsed = StoreEvent.safeParse(record.data)
  if (!parsed.success) throw new InvalidLogRecordError(record.position, parsed.error.message)
  const event = parsed.data
  const duration = event.data.duration
  return {
    account_id: event.accountId,
    store_id: event.storeId,
    position: record.position,
    person_id: event.personId,
    type: event.type,
    ts: event.timestamp,
    duration: typeof duration === 'number' && Number.isFinite(duration) && duration >= 0 ? duration : null,
    data: JSON.stringify(event.data),
  }
}

/** Store events and their hourly rollup, as erasure rebuilds it. */
export const storeRollup: RollupSpec = {
  raw: tables.storeEvents,
  rollup: tables.storeHourly,
  personColumn: 'person_id',
  scopeColumn: 'store_id',
  aggregate: `account_id, store_id, type, toStartOfHour(ts) AS hour, count() AS events,
    sumIf(assumeNotNull(duration), duration IS NOT NULL) AS duration_sum, countIf(duration IS NOT NULL) AS duration_count`,
  groupBy: 'account_id, store_id, type, hour',
}

const ReportParams = z.object({ position: z.number().int().min(0), personId: z.string() })

/** Whether an erasure's report is written (by this runtime, or by an earlier one that kept no steps). */
const reportWritten = defineQuery({
  name: 'store erasure report written',
  params: ReportParams,
  row: z.object({ n: z.coerce.number() }),
  sql: (w) => `SELECT count() AS n FROM ${w.table(tables.storeErasures)}
               WHERE position = {position:UInt64} AND person_id = {personId:String}`,
})

/** The answer to an erasure request: how many store events of the person it removed. Written once. */
async function writeReport(erasure: Erasure, events: number, context: ErasureReportContext): Promise<void> {
  const [written] = await context.warehouse.select(reportWritten, {
    position: erasure.position,
    personId: erasure.personId,
  })
  if ((written?.n ?? 0) > 0) return
  await context.insert(tables.storeErasures, [
    { position: erasure.position, person_id: erasure.personId, events },
  ])
}

/**
 * The count goes first: a step done again after a crash keeps the first count (its report is
 * deduplicated), then the rows go and the hours they touched are recomputed.
 */
async function eraseStoreEvents(erasure: Erasure, context: ErasureContext): Promise<void> {
  await context.report(await countErased(context.warehouse, storeRollup, erasure, context.ownsScope))
  await eraseFromRollup(context.warehouse, storeRollup, erasure, context.ownsScope)
}

/** Store events per type and hour (counts and durations), and the erasure of people's events. */
export const storeStatsProjection: Projection = {
  name: 'store-stats',
  version: 1,
  appliesInChunks: true,
  async apply(records, context) {
    const rows: StoreEventRow[] = []
    for (const record of records) if (record.type === STORE_EVENT) rows.push(toRow(record))
    await context.insert(tables.storeEvents, rows)
  },
  erase: eraseStoreEvents,
  erasureCompleted: writeReport,
  tables: [tables.storeEvents, tables.storeHourly, tables.storeErasures],
  carriedOver: [tables.storeErasures],
  reset: (warehouse) => truncateTables(warehouse, storeStatsProjection.tables),
}

/**
 * How many events an erasure removed, as the store-statistics projection reported it when it
 * applied the erasure (no row yet: it has not). `position` is the erasure's control-plane record.
 */
export const erasureReportQuery = defineQuery({
  name: 'erasureReport',
  params: ReportParams,
  row: z.object({ events: z.coerce.number() }),
  sql: (w) => `
    SELECT events FROM ${w.table(tables.storeErasures)}
    WHERE position = {position:UInt64} AND person_id = {personId:String}
    LIMIT 1`,
})
