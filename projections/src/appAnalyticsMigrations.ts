import type { Migration } from './migration.ts'
import { tables } from './tables.ts'

const DEDUP_WINDOW = 10_000

/**
 * App analytics: event categories, distinct sessions in the hourly rollup, and per-user
 * statistics of defined events. Versions 10–19.
 */
export const appAnalyticsMigrations: readonly Migration[] = [
  {
    version: 10,
    name: 'event categories, sessions in the hourly rollup',
    statements: [
      `ALTER TABLE {db}.${tables.eventsRaw} ADD COLUMN IF NOT EXISTS category LowCardinality(String) DEFAULT ''`,
      `ALTER TABLE {db}.${tables.rollupHourly} ADD COLUMN IF NOT EXISTS sessions AggregateFunction(uniqExact, String)`,
      // A materialized view's query cannot be altered: it is replaced. Migrations run before any
      // projection starts, so no insert falls between the two statements.
      `DROP VIEW IF EXISTS {db}.${tables.rollupHourlyView}`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.${tables.rollupHourlyView} TO {db}.${tables.rollupHourly} AS
        SELECT account_id, source_id, toStartOfHour(ts) AS hour, name,
               count() AS events, uniqExactStateIf(subject, subject != '') AS subjects,
               uniqExactStateIf(session, session != '') AS sessions
        FROM {db}.${tables.eventsRaw}
        GROUP BY account_id, source_id, hour, name`,
    ],
  },
  {
    version: 11,
    name: 'per-user statistics of defined events',
    statements: [
      `CREATE TABLE IF NOT EXISTS {db}.${tables.eventDefinitions} (
        account_id LowCardinality(String),
        source_id LowCardinality(String),
        name String,
        event_code String,
        key_attr String,
        amount_attr String,
        position UInt64
      ) ENGINE = MergeTree ORDER BY (source_id, name, position)
      SETTINGS non_replicated_deduplication_window = ${DEDUP_WINDOW}`,
      `CREATE TABLE IF NOT EXISTS {db}.${tables.userStatsHourly} (
        account_id LowCardinality(String),
        source_id LowCardinality(String),
        name LowCardinality(String),
        subject String,
        stat_key String,
        hour DateTime('UTC'),
        amount SimpleAggregateFunction(sum, Int64),
        events SimpleAggregateFunction(sum, UInt64)
      ) ENGINE = AggregatingMergeTree ORDER BY (account_id, source_id, name, subject, stat_key, hour)
      SETTINGS non_replicated_deduplication_window = ${DEDUP_WINDOW}`,
      // All-time sums: what a statistics read without a time range needs, without reading every hour.
      `CREATE TABLE IF NOT EXISTS {db}.${tables.userStatsTotal} (
        account_id LowCardinality(String),
        source_id LowCardinality(String),
        name LowCardinality(String),
        subject String,
        stat_key String,
        amount SimpleAggregateFunction(sum, Int64),
        events SimpleAggregateFunction(sum, UInt64)
      ) ENGINE = AggregatingMergeTree ORDER BY (account_id, source_id, name, subject, stat_key)
      SETTINGS non_replicated_deduplication_window = ${DEDUP_WINDOW}`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.${tables.userStatsTotalView} TO {db}.${tables.userStatsTotal} AS
        SELECT account_id, source_id, name, subject, stat_key, sum(amount) AS amount, sum(events) AS events
        FROM {db}.${tables.userStatsHourly}
        GROUP BY account_id, source_id, name, subject, stat_key`,
    ],
  },
  {
    version: 12,
    name: 'per-user statistics rows carry their log position',
    statements: [
      // The first log position of the batch part that summed a row: a batch written again after a
      // crash finds its own rows by it. In the sorting key, so rows of different batches stay apart.
      `ALTER TABLE {db}.${tables.userStatsHourly} ADD COLUMN IF NOT EXISTS position UInt64,
        MODIFY ORDER BY (account_id, source_id, name, subject, stat_key, hour, position)`,
    ],
  },
]
