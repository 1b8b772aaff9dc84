import type { LogRecord } from '@hourglass/log'
import { STORE_EVENT, StoreEvent } from '@hourglass/schemas'
import { countErased, type Erasure, eraseFromRollup, type RollupSpec, toErasure } from './erasure.ts'
import {
  type BatchContext,
  type ErasureContext,
  InvalidLogRecordError,
  type Projection,
} from './projection.ts'
import { tables } from './tables.ts'
import type { Warehouse } from './warehouse.ts'

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

const toRow = (record: LogRecord): StoreEventRow => {
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

/** The answer to an erasure request: how many store events of the person it removed. */
const insertReport = (context: BatchContext, erasure: Erasure, events: number) =>
  context.insert(tables.storeErasures, [{ position: erasure.position, person_id: erasure.personId, events }])

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
  async apply(records, context) {
    let pending: StoreEventRow[] = []
    for (const record of records) {
      if (record.type === STORE_EVENT) {
        pending.push(toRow(record))
        continue
      }
      const erasure = toErasure(record)
      if (!erasure) continue
      // Events before the erasure must be in the table for it to remove them.
      await context.insert(tables.storeEvents, pending)
      pending = []
      await eraseStoreEvents(erasure, {
        ...context,
        report: (events) => insertReport(context, erasure, events),
      })
    }
    await context.insert(tables.storeEvents, pending)
  },
  erase: eraseStoreEvents,
  erasureCompleted: (erasure, events, context) => insertReport(context, erasure, events),
  async reset(warehouse: Warehouse) {
    for (const table of [tables.storeEvents, tables.storeHourly, tables.storeErasures]) {
      await warehouse.client.command({ query: `TRUNCATE TABLE IF EXISTS ${warehouse.table(table)}` })
    }
  },
}
