import type { Migration } from './migration.ts'
import { tables } from './tables.ts'

/** Store statistics: raw store events, hourly counts and durations, and erasure reports. */
export const storeStatsMigrations: readonly Migration[] = [
  {
    version: 20,
    name: 'store events, hourly store statistics, erasures',
    statements: [
      `CREATE TABLE IF NOT EXISTS {db}.${tables.storeEvents} (
        account_id LowCardinality(String),
        store_id LowCardinality(String),
        position UInt64,
        person_id String,
        type LowCardinality(String),
        ts DateTime64(3, 'UTC'),
        duration Nullable(Float64),
        data String
      ) ENGINE = MergeTree ORDER BY (account_id, store_id, ts, position)
      SETTINGS non_replicated_deduplication_window = 10000`,
      `CREATE TABLE IF NOT EXISTS {db}.${tables.storeHourly} (
        account_id LowCardinality(String),
        store_id LowCardinality(String),
        type LowCardinality(String),
        hour DateTime('UTC'),
        events SimpleAggregateFunction(sum, UInt64),
        duration_sum SimpleAggregateFunction(sum, Float64),
        duration_count SimpleAggregateFunction(sum, UInt64)
      ) ENGINE = AggregatingMergeTree ORDER BY (account_id, store_id, type, hour)
      SETTINGS non_replicated_deduplication_window = 10000`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.${tables.storeHourlyView} TO {db}.${tables.storeHourly} AS
        SELECT account_id, store_id, type, toStartOfHour(ts) AS hour, count() AS events,
               sumIf(assumeNotNull(duration), duration IS NOT NULL) AS duration_sum,
               countIf(duration IS NOT NULL) AS duration_count
        FROM {db}.${tables.storeEvents}
        GROUP BY account_id, store_id, type, hour`,
      `CREATE TABLE IF NOT EXISTS {db}.${tables.storeErasures} (
        position UInt64,
        person_id String,
        events UInt64
      ) ENGINE = MergeTree ORDER BY position
      SETTINGS non_replicated_deduplication_window = 10000`,
    ],
  },
]
