import { deviceReadingQuantiles, tables } from '@hourglass/projections/tables'
import { z } from 'zod'
import { defineQuery, runQuery, type WarehouseReader } from '../warehouseReader.ts'
import { type SummaryPeriod, summaryWindows } from './summaryPeriod.ts'

/** Whose readings a summary covers: a device (under any owner), a user's devices, or one device of a user. */
export type SummaryScope =
  | { readonly kind: 'device'; readonly deviceId: string }
  | { readonly kind: 'user'; readonly userId: string }
  | { readonly kind: 'userDevice'; readonly userId: string; readonly deviceId: string }

const SCOPE_FILTERS: Record<SummaryScope['kind'], string> = {
  device: 'device_id = {deviceId:String}',
  user: 'user_id = {userId:String}',
  userDevice: 'device_id = {deviceId:String} AND user_id = {userId:String}',
}

const Params = z.object({
  accountId: z.string(),
  sourceId: z.string(),
  deviceId: z.string(),
  userId: z.string(),
  daysFrom: z.number().int().nonnegative(),
  daysTo: z.number().int().nonnegative(),
  hoursHeadFrom: z.number().int().nonnegative(),
  hoursHeadTo: z.number().int().nonnegative(),
  hoursTailFrom: z.number().int().nonnegative(),
  hoursTailTo: z.number().int().nonnegative(),
  rawHeadFrom: z.number().int(),
  rawHeadTo: z.number().int(),
  rawTailFrom: z.number().int(),
  rawTailTo: z.number().int(),
})

const Row = z.object({
  metric: z.string(),
  n: z.coerce.number(),
  lo: z.number(),
  hi: z.number(),
  total: z.number(),
  qs: z.array(z.coerce.number()).length(2),
})

const STATES = 'readings, min_value, max_value, sum_value, quantiles'
const inFleet = 'account_id = {accountId:String} AND source_id = {sourceId:String}'
const bucketIn = (column: string, from: string, to: string) =>
  `(${column} >= toDateTime(intDiv({${from}:Int64}, 1000), 'UTC') AND ${column} < toDateTime(intDiv({${to}:Int64}, 1000), 'UTC'))`
const tsIn = (from: string, to: string) =>
  `(ts >= fromUnixTimestamp64Milli({${from}:Int64}, 'UTC') AND ts < fromUnixTimestamp64Milli({${to}:Int64}, 'UTC'))`

/**
 * Per metric: count, min, max, sum and the t-digest median and p95 of the readings in scope,
 * merged from daily states (whole days), hourly states (whole hours around them) and states
 * built on the fly from the raw readings of the partial hours at the period's ends.
 */
export const deviceSummaryQuery = (scope: SummaryScope['kind']) =>
  defineQuery({
    name: `deviceSummary.${scope}`,
    params: Params,
    row: Row,
    sql: (r) => {
      const where = `${inFleet} AND ${SCOPE_FILTERS[scope]}`
      return `
    SELECT metric, countMerge(readings) AS n, minMerge(min_value) AS lo, maxMerge(max_value) AS hi,
           sumMerge(sum_value) AS total, ${deviceReadingQuantiles.merge}(quantiles) AS qs
    FROM (
      SELECT metric, ${STATES}
      FROM ${r.table(tables.deviceReadingsDaily)}
      WHERE ${where} AND ${bucketIn('day', 'daysFrom', 'daysTo')}
      UNION ALL
      SELECT metric, ${STATES}
      FROM ${r.table(tables.deviceReadingsHourly)}
      WHERE ${where}
        AND (${bucketIn('hour', 'hoursHeadFrom', 'hoursHeadTo')} OR ${bucketIn('hour', 'hoursTailFrom', 'hoursTailTo')})
      UNION ALL
      SELECT metric, countState() AS readings, minState(value) AS min_value, maxState(value) AS max_value,
             sumState(value) AS sum_value, ${deviceReadingQuantiles.state}(value) AS quantiles
      FROM ${r.table(tables.deviceReadingsRaw)}
      WHERE ${where} AND (${tsIn('rawHeadFrom', 'rawHeadTo')} OR ${tsIn('rawTailFrom', 'rawTailTo')})
      GROUP BY metric
    )
    GROUP BY metric
    ORDER BY metric
    LIMIT 10000`
    },
  })

export const MetricSummary = z.object({
  count: z.number(),
  min: z.number(),
  max: z.number(),
  mean: z.number(),
  sum: z.number(),
  /** t-digest estimates: within the documented rank tolerance of the exact values. */
  median: z.number(),
  p95: z.number(),
})
export type MetricSummary = z.infer<typeof MetricSummary>

/** The named summary query of each kind of scope. */
export const deviceSummaryQueries = {
  device: deviceSummaryQuery('device'),
  user: deviceSummaryQuery('user'),
  userDevice: deviceSummaryQuery('userDevice'),
}

/** The parameters of a summary query: the scope, and the windows of days, hours and raw readings. */
export function deviceSummaryParams(
  fleet: { readonly accountId: string; readonly sourceId: string },
  scope: SummaryScope,
  period: SummaryPeriod,
): z.input<typeof Params> {
  const { days, hours, raw } = summaryWindows(period)
  return {
    accountId: fleet.accountId,
    sourceId: fleet.sourceId,
    deviceId: 'deviceId' in scope ? scope.deviceId : '',
    userId: 'userId' in scope ? scope.userId : '',
    daysFrom: days.from,
    daysTo: days.to,
    hoursHeadFrom: hours[0].from,
    hoursHeadTo: hours[0].to,
    hoursTailFrom: hours[1].from,
    hoursTailTo: hours[1].to,
    rawHeadFrom: raw[0].from,
    rawHeadTo: raw[0].to,
    rawTailFrom: raw[1].from,
    rawTailTo: raw[1].to,
  }
}

/** The summary of each metric of the readings in scope over a period (all time without bounds). */
export async function summariseReadings(
  reader: WarehouseReader,
  fleet: { readonly accountId: string; readonly sourceId: string },
  scope: SummaryScope,
  period: SummaryPeriod,
): Promise<Record<string, MetricSummary>> {
  const rows = await runQuery(
    reader,
    deviceSummaryQueries[scope.kind],
    deviceSummaryParams(fleet, scope, period),
  )
  // fromEntries defines own properties, whatever a metric is called.
  return Object.fromEntries(
    rows
      .filter((row) => row.n > 0)
      .map((row) => [
        row.metric,
        {
          count: row.n,
          min: row.lo,
          max: row.hi,
          mean: row.total / row.n,
          sum: row.total,
          median: row.qs[0]!,
          p95: row.qs[1]!,
        },
      ]),
  )
}
