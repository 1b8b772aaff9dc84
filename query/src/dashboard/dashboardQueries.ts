import type { TableNames } from '@hourglass/projections'
import { deviceReadingQuantiles, tables } from '@hourglass/projections/tables'
import type { SourceKind } from '@hourglass/schemas'
import { z } from 'zod'
import { defineQuery } from '../warehouseReader.ts'

const Scope = { accountId: z.string(), sourceId: z.string() }
const RangeParams = z.object({ ...Scope, from: z.number(), to: z.number() })

const inSource = 'account_id = {accountId:String} AND source_id = {sourceId:String}'
const inHours = (column: string) =>
  `${column} >= toStartOfHour(fromUnixTimestamp64Milli({from:Int64}, 'UTC'))
      AND ${column} < fromUnixTimestamp64Milli({to:Int64}, 'UTC')`

/**
 * A source's activity per UTC hour and name, with the distinct "who" of each (a uniqExact state):
 * the generic events of every source (from the hourly rollup), plus the records of its kind —
 * store events by type and person, receipts by place, device readings by metric and device.
 */
const activitySql = (r: TableNames, kind: SourceKind) => {
  const generic = `
      SELECT hour, name, events, subjects AS users
      FROM ${r.table(tables.rollupHourly)}
      WHERE ${inSource} AND ${inHours('hour')}`
  const ofKind = (table: string, name: string, who: string, scope = inSource) => `
      UNION ALL
      SELECT toDateTime(toStartOfHour(ts), 'UTC') AS hour, ${name} AS name, count() AS events,
             uniqExactState(${who}) AS users
      FROM ${r.table(table)}
      WHERE ${scope} AND ${inHours('ts')}
      GROUP BY hour, name`
  switch (kind) {
    case 'store':
      return (
        generic +
        ofKind(
          tables.storeEvents,
          'type',
          'person_id',
          'account_id = {accountId:String} AND store_id = {sourceId:String}',
        )
      )
    case 'place':
      return generic + ofKind(tables.receiptsRaw, "'receipt'", 'place_id')
    case 'device':
      return generic + ofKind(tables.deviceReadingsRaw, 'metric', 'device_id')
    default:
      return generic
  }
}

/** Most names an overview charts one by one; the rest count in the totals only. */
export const OVERVIEW_TOP_NAMES = 20

export const overviewQueries = (kind: SourceKind) => ({
  hours: defineQuery({
    name: `overviewHours.${kind}`,
    params: RangeParams,
    row: z.object({ hour_s: z.coerce.number(), events: z.coerce.number(), users: z.coerce.number() }),
    sql: (r) => `
    SELECT toUnixTimestamp(hour) AS hour_s, sum(events) AS events, uniqExactMerge(users) AS users
    FROM (${activitySql(r, kind)})
    GROUP BY hour ORDER BY hour
    LIMIT 100000`,
  }),
  names: defineQuery({
    name: `overviewNames.${kind}`,
    params: RangeParams,
    row: z.object({ name: z.string(), events: z.coerce.number(), users: z.coerce.number() }),
    sql: (r) => `
    SELECT name, sum(events) AS events, uniqExactMerge(users) AS users
    FROM (${activitySql(r, kind)})
    GROUP BY name ORDER BY events DESC, name
    LIMIT ${OVERVIEW_TOP_NAMES}`,
  }),
  hoursByName: defineQuery({
    name: `overviewHoursByName.${kind}`,
    params: RangeParams,
    row: z.object({ hour_s: z.coerce.number(), name: z.string(), events: z.coerce.number() }),
    sql: (r) => `
    SELECT toUnixTimestamp(hour) AS hour_s, name, sum(events) AS events
    FROM (${activitySql(r, kind)})
    WHERE name IN (
      SELECT name FROM (${activitySql(r, kind)})
      GROUP BY name ORDER BY sum(events) DESC, name LIMIT ${OVERVIEW_TOP_NAMES}
    )
    GROUP BY hour, name ORDER BY hour, name
    LIMIT 1000000`,
  }),
})

/** The newest record of a source (by event time and by arrival) and how many it has. */
export const freshnessQuery = (kind: SourceKind) =>
  defineQuery({
    name: `sourceFreshness.${kind}`,
    params: z.object(Scope),
    row: z.object({
      newest_ms: z.coerce.number(),
      received_ms: z.coerce.number(),
      records: z.coerce.number(),
    }),
    sql: (r) => {
      const part = (table: string, received: string, scope = inSource) => `
        SELECT toUnixTimestamp64Milli(max(ts)) AS newest_ms, ${received} AS received_ms, count() AS records
        FROM ${r.table(table)} WHERE ${scope}`
      const received = 'toUnixTimestamp64Milli(max(received_at))'
      const parts = [part(tables.eventsRaw, received)]
      if (kind === 'store')
        parts.push(
          // Store events keep no arrival time: their event time stands in for it.
          part(
            tables.storeEvents,
            'toUnixTimestamp64Milli(max(ts))',
            'account_id = {accountId:String} AND store_id = {sourceId:String}',
          ),
        )
      if (kind === 'place') parts.push(part(tables.receiptsRaw, received))
      if (kind === 'device') parts.push(part(tables.deviceReadingsRaw, received))
      return `
    SELECT max(newest_ms) AS newest_ms, max(received_ms) AS received_ms, sum(records) AS records
    FROM (${parts.join(' UNION ALL ')})`
    },
  })

/** Store events per UTC day and type, with the sums behind the average duration. */
export const storeDailyQuery = defineQuery({
  name: 'storeDaily',
  params: RangeParams,
  row: z.object({
    day: z.string(),
    type: z.string(),
    events: z.coerce.number(),
    duration_sum: z.coerce.number(),
    duration_count: z.coerce.number(),
  }),
  sql: (r) => `
    SELECT toString(toDate(hour)) AS day, type, sum(events) AS events,
           sum(duration_sum) AS duration_sum, sum(duration_count) AS duration_count
    FROM ${r.table(tables.storeHourly)}
    WHERE account_id = {accountId:String} AND store_id = {sourceId:String} AND ${inHours('hour')}
    GROUP BY day, type HAVING events > 0
    ORDER BY day, type
    LIMIT 100000`,
})

/** The metrics and devices a fleet has readings of. */
export const fleetCatalogueQuery = defineQuery({
  name: 'fleetCatalogue',
  params: z.object(Scope),
  row: z.object({ metrics: z.array(z.string()), devices: z.array(z.string()) }),
  sql: (r) => `
    SELECT arraySort(groupUniqArray(10000)(metric)) AS metrics, arraySort(groupUniqArray(10000)(device_id)) AS devices
    FROM ${r.table(tables.deviceReadingsHourly)}
    WHERE ${inSource}`,
})

/** Min, max, sum, count and t-digest median and p95 of one metric per bucket of whole UTC hours. */
export const deviceSeriesQuery = defineQuery({
  name: 'deviceSeries',
  params: RangeParams.extend({
    metric: z.string(),
    /** '' for every device of the fleet. */
    deviceId: z.string(),
    bucketHours: z.number().int().positive(),
  }),
  row: z.object({
    bucket_s: z.coerce.number(),
    n: z.coerce.number(),
    lo: z.number(),
    hi: z.number(),
    total: z.number(),
    qs: z.array(z.coerce.number()).length(2),
  }),
  sql: (r) => `
    SELECT toUnixTimestamp(toStartOfInterval(hour, toIntervalHour({bucketHours:UInt32}))) AS bucket_s,
           countMerge(readings) AS n, minMerge(min_value) AS lo, maxMerge(max_value) AS hi,
           sumMerge(sum_value) AS total, ${deviceReadingQuantiles.merge}(quantiles) AS qs
    FROM ${r.table(tables.deviceReadingsHourly)}
    WHERE ${inSource} AND metric = {metric:String}
      AND ({deviceId:String} = '' OR device_id = {deviceId:String})
      AND ${inHours('hour')}
    GROUP BY bucket_s HAVING n > 0
    ORDER BY bucket_s
    LIMIT 100000`,
})
