import type { Migration } from './migration.ts'
import { deviceReadingQuantiles, tables } from './tables.ts'

/** Insert deduplication keeps this many recent batch tokens per table. */
const DEDUP_WINDOW = 10_000

/** Aggregate states per device, owner at reading time, metric and `bucket` (an hour or a day). */
const statesTable = (table: string, bucket: string) =>
  `CREATE TABLE IF NOT EXISTS {db}.${table} (
        account_id LowCardinality(String),
        source_id LowCardinality(String),
        device_id String,
        ${bucket} DateTime('UTC'),
        user_id String,
        metric LowCardinality(String),
        readings AggregateFunction(count),
        min_value AggregateFunction(min, Float64),
        max_value AggregateFunction(max, Float64),
        sum_value AggregateFunction(sum, Float64),
        quantiles AggregateFunction(${deviceReadingQuantiles.type}, Float64)
      ) ENGINE = AggregatingMergeTree ORDER BY (account_id, source_id, device_id, ${bucket}, user_id, metric)
      SETTINGS non_replicated_deduplication_window = ${DEDUP_WINDOW}`

const statesView = (view: string, table: string, bucket: string, startOf: string) =>
  `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.${view} TO {db}.${table} AS
        SELECT account_id, source_id, device_id, ${startOf}(ts) AS ${bucket}, user_id, metric,
               countState() AS readings, minState(value) AS min_value, maxState(value) AS max_value,
               sumState(value) AS sum_value, ${deviceReadingQuantiles.state}(value) AS quantiles
        FROM {db}.${tables.deviceReadingsRaw}
        GROUP BY account_id, source_id, device_id, ${bucket}, user_id, metric`

/**
 * Device readings (seed 004): one raw row per metric value of a reading, and aggregate states
 * per device, owner at reading time and metric, per hour and per day, each fed from the raw
 * rows by a materialized view. `user_id` is '' for readings of a device nobody owned.
 *
 * Medians and p95 are t-digest states: a few hundred float32 centroids however many readings,
 * at the price of a bounded rank error (README). A digest pays off only once it holds many more
 * readings than centroids, which an hour of one device seldom does: hence the daily states,
 * merged for the whole days of a period, with hourly states for the hours around them.
 */
export const deviceReadingsMigrations: readonly Migration[] = [
  {
    version: 40,
    name: 'device readings and their hourly and daily aggregate states',
    statements: [
      `CREATE TABLE IF NOT EXISTS {db}.${tables.deviceReadingsRaw} (
        account_id LowCardinality(String),
        source_id LowCardinality(String),
        device_id String,
        ts DateTime64(3, 'UTC'),
        user_id String,
        metric LowCardinality(String),
        value Float64,
        position UInt64,
        id String,
        received_at DateTime64(3, 'UTC')
      ) ENGINE = MergeTree ORDER BY (account_id, source_id, device_id, ts, metric, position)
      SETTINGS non_replicated_deduplication_window = ${DEDUP_WINDOW}`,
      statesTable(tables.deviceReadingsHourly, 'hour'),
      statesView(tables.deviceReadingsHourlyView, tables.deviceReadingsHourly, 'hour', 'toStartOfHour'),
      statesTable(tables.deviceReadingsDaily, 'day'),
      statesView(tables.deviceReadingsDailyView, tables.deviceReadingsDaily, 'day', 'toStartOfDay'),
    ],
  },
]
