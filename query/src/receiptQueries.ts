import { tables } from '@hourglass/projections/tables'
import { z } from 'zod'
import { defineQuery } from './warehouseReader.ts'

/** The receipts of one account, optionally of one source and one place ('' means all). */
const Scope = { accountId: z.string(), sourceId: z.string(), placeId: z.string() }
const Range = { from: z.number(), to: z.number() }

const inScope = `account_id = {accountId:String}
      AND ({sourceId:String} = '' OR source_id = {sourceId:String})
      AND ({placeId:String} = '' OR place_id = {placeId:String})`
/** Whole hours: those that start in [start of the hour of `from`, `to`). */
const inHours = `hour >= toStartOfHour(fromUnixTimestamp64Milli({from:Int64}, 'UTC'))
      AND hour < fromUnixTimestamp64Milli({to:Int64}, 'UTC')`

/**
 * Money leaves ClickHouse as text (`toString` of a Decimal): JSON numbers would pass through
 * doubles. Aliases never reuse a column's name, which ClickHouse would let shadow the column.
 */
const Figures = {
  purchases_n: z.coerce.number(),
  revenue_t: z.string(),
  nds_t: z.string(),
  tips_t: z.string(),
}
const SUM_FIGURES = `sum(purchases) AS purchases_n, toString(sum(revenue)) AS revenue_t,
           toString(sum(nds)) AS nds_t, toString(sum(tips)) AS tips_t`

export const receiptHoursQuery = defineQuery({
  name: 'receiptHours',
  params: z.object({ ...Scope, ...Range }),
  row: z.object({ hour_s: z.coerce.number(), ...Figures }),
  sql: (r) => `
    SELECT toUnixTimestamp(hour) AS hour_s, ${SUM_FIGURES}
    FROM ${r.table(tables.receiptsHourly)}
    WHERE ${inScope} AND ${inHours}
    GROUP BY hour ORDER BY hour
    LIMIT 300000`,
})

export const receiptPlaceTotalsQuery = defineQuery({
  name: 'receiptPlaceTotals',
  params: z.object({ ...Scope, ...Range }),
  row: z.object({ source_id: z.string(), place_id: z.string(), ...Figures }),
  sql: (r) => `
    SELECT source_id, place_id, ${SUM_FIGURES}
    FROM ${r.table(tables.receiptsHourly)}
    WHERE ${inScope} AND ${inHours}
    GROUP BY source_id, place_id ORDER BY place_id, source_id
    LIMIT 100000`,
})

export const receiptCategoriesQuery = defineQuery({
  name: 'receiptCategories',
  params: z.object({ ...Scope, ...Range }),
  row: z.object({ category: z.string(), items_n: z.coerce.number(), revenue_t: z.string() }),
  sql: (r) => `
    SELECT category, sum(items) AS items_n, toString(sum(revenue)) AS revenue_t
    FROM ${r.table(tables.receiptCategoriesHourly)}
    WHERE ${inScope} AND ${inHours}
    GROUP BY category ORDER BY category
    LIMIT 100000`,
})

export const receiptPlacesQuery = defineQuery({
  name: 'receiptPlaces',
  params: z.object(Scope),
  row: z.object({
    source_id: z.string(),
    place_id: z.string(),
    place_name: z.string(),
    purchases_n: z.coerce.number(),
    first_ms: z.coerce.number(),
    last_ms: z.coerce.number(),
  }),
  sql: (r) => `
    SELECT source_id, place_id, argMaxMerge(name) AS place_name, sum(purchases) AS purchases_n,
           toUnixTimestamp64Milli(min(first_ts)) AS first_ms, toUnixTimestamp64Milli(max(last_ts)) AS last_ms
    FROM ${r.table(tables.receiptPlaces)}
    WHERE ${inScope}
    GROUP BY source_id, place_id ORDER BY place_id, source_id
    LIMIT 100000`,
})

export const receiptJournalQuery = defineQuery({
  name: 'receiptJournal',
  params: z.object({ ...Scope, ...Range, afterTs: z.number(), afterPosition: z.number(), limit: z.number() }),
  row: z.object({
    position: z.coerce.number(),
    transaction_id: z.string(),
    source_id: z.string(),
    place_id: z.string(),
    place_name: z.string(),
    payment_method: z.string(),
    ts_ms: z.coerce.number(),
    received_ms: z.coerce.number(),
    total_t: z.string(),
    nds_t: z.string(),
    tips_t: z.string(),
    product_ids: z.array(z.string()),
    categories: z.array(z.string()),
    quantities: z.array(z.coerce.number()),
    prices_t: z.array(z.string()),
  }),
  sql: (r) => `
    SELECT position, transaction_id, source_id, place_id, place_name, payment_method,
           toUnixTimestamp64Milli(ts) AS ts_ms, toUnixTimestamp64Milli(received_at) AS received_ms,
           toString(total_amount) AS total_t, toString(nds_amount) AS nds_t, toString(tips_amount) AS tips_t,
           product_ids, categories, quantities, arrayMap(p -> toString(p), prices) AS prices_t
    FROM ${r.table(tables.receiptsRaw)}
    WHERE ${inScope}
      AND ts >= fromUnixTimestamp64Milli({from:Int64}, 'UTC') AND ts < fromUnixTimestamp64Milli({to:Int64}, 'UTC')
      AND (ts, position) > (fromUnixTimestamp64Milli({afterTs:Int64}, 'UTC'), {afterPosition:Int64})
    ORDER BY ts, position
    LIMIT {limit:UInt32}`,
})

export const receiptRunsQuery = defineQuery({
  name: 'receiptRuns',
  params: z.object({ accountId: z.string(), beforePosition: z.number(), limit: z.number() }),
  row: z.object({
    from_position: z.coerce.number(),
    to_position: z.coerce.number(),
    receipts_n: z.coerce.number(),
    units_n: z.coerce.number(),
    revenue_t: z.string(),
    first_ms: z.coerce.number(),
    last_ms: z.coerce.number(),
    computed_ms: z.coerce.number(),
  }),
  sql: (r) => `
    SELECT from_position, to_position, receipts AS receipts_n, units AS units_n, toString(revenue) AS revenue_t,
           toUnixTimestamp64Milli(first_ts) AS first_ms, toUnixTimestamp64Milli(last_ts) AS last_ms,
           toUnixTimestamp64Milli(computed_at) AS computed_ms
    FROM ${r.table(tables.receiptRuns)}
    WHERE account_id = {accountId:String} AND from_position < {beforePosition:Int64}
    ORDER BY from_position DESC
    LIMIT {limit:UInt32}`,
})
