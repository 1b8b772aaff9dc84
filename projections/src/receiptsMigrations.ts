import type { Migration } from './migration.ts'
import { tables } from './tables.ts'

/** Insert deduplication keeps this many recent batch tokens per table. */
const DEDUP_WINDOW = 10_000

/**
 * Purchase receipts (seed 003): raw receipts with their lines, hourly sums per place and per
 * place and category (fed by materialized views), the places with their latest names, and one
 * row per projection batch and account (the journal of analytics runs). Money is Decimal:
 * Decimal(18,2) per receipt, Decimal(38,2) for sums, which is what ClickHouse's sum() returns.
 */
export const receiptsMigrations: readonly Migration[] = [
  {
    version: 30,
    name: 'receipts, receipt lines, hourly receipt analytics, places, analytics runs',
    statements: [
      // A receipt's lines are parallel arrays: one row per receipt, unnested by the category view.
      `CREATE TABLE IF NOT EXISTS {db}.${tables.receiptsRaw} (
        account_id LowCardinality(String),
        source_id LowCardinality(String),
        place_id String,
        place_name String,
        position UInt64,
        transaction_id String,
        ts DateTime64(3, 'UTC'),
        received_at DateTime64(3, 'UTC'),
        payment_method LowCardinality(String),
        units UInt64,
        total_amount Decimal(18, 2),
        nds_amount Decimal(18, 2),
        tips_amount Decimal(18, 2),
        product_ids Array(String),
        categories Array(LowCardinality(String)),
        quantities Array(UInt32),
        prices Array(Decimal(18, 2)),
        amounts Array(Decimal(18, 2))
      ) ENGINE = MergeTree ORDER BY (account_id, ts, position)
      SETTINGS non_replicated_deduplication_window = ${DEDUP_WINDOW}`,
      `CREATE TABLE IF NOT EXISTS {db}.${tables.receiptsHourly} (
        account_id LowCardinality(String),
        source_id LowCardinality(String),
        place_id String,
        hour DateTime('UTC'),
        purchases SimpleAggregateFunction(sum, UInt64),
        revenue SimpleAggregateFunction(sum, Decimal(38, 2)),
        nds SimpleAggregateFunction(sum, Decimal(38, 2)),
        tips SimpleAggregateFunction(sum, Decimal(38, 2))
      ) ENGINE = AggregatingMergeTree ORDER BY (account_id, source_id, place_id, hour)
      SETTINGS non_replicated_deduplication_window = ${DEDUP_WINDOW}`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.${tables.receiptsHourlyView} TO {db}.${tables.receiptsHourly} AS
        SELECT account_id, source_id, place_id, toStartOfHour(ts) AS hour,
               count() AS purchases, sum(total_amount) AS revenue, sum(nds_amount) AS nds, sum(tips_amount) AS tips
        FROM {db}.${tables.receiptsRaw}
        GROUP BY account_id, source_id, place_id, hour`,
      `CREATE TABLE IF NOT EXISTS {db}.${tables.receiptCategoriesHourly} (
        account_id LowCardinality(String),
        source_id LowCardinality(String),
        place_id String,
        hour DateTime('UTC'),
        category LowCardinality(String),
        items SimpleAggregateFunction(sum, UInt64),
        revenue SimpleAggregateFunction(sum, Decimal(38, 2))
      ) ENGINE = AggregatingMergeTree ORDER BY (account_id, source_id, place_id, hour, category)
      SETTINGS non_replicated_deduplication_window = ${DEDUP_WINDOW}`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.${tables.receiptCategoriesHourlyView}
        TO {db}.${tables.receiptCategoriesHourly} AS
        SELECT account_id, source_id, place_id, toStartOfHour(ts) AS hour, category,
               sum(quantity) AS items, sum(amount) AS revenue
        FROM {db}.${tables.receiptsRaw}
        ARRAY JOIN categories AS category, quantities AS quantity, amounts AS amount
        GROUP BY account_id, source_id, place_id, hour, category`,
      `CREATE TABLE IF NOT EXISTS {db}.${tables.receiptPlaces} (
        account_id LowCardinality(String),
        source_id LowCardinality(String),
        place_id String,
        name AggregateFunction(argMax, String, Tuple(DateTime64(3, 'UTC'), UInt64)),
        purchases SimpleAggregateFunction(sum, UInt64),
        first_ts SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
        last_ts SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
      ) ENGINE = AggregatingMergeTree ORDER BY (account_id, source_id, place_id)
      SETTINGS non_replicated_deduplication_window = ${DEDUP_WINDOW}`,
      // A place's name is the one on its latest receipt (by purchase time, then log position).
      `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.${tables.receiptPlacesView} TO {db}.${tables.receiptPlaces} AS
        SELECT account_id, source_id, place_id, argMaxState(place_name, (ts, position)) AS name,
               count() AS purchases, min(ts) AS first_ts, max(ts) AS last_ts
        FROM {db}.${tables.receiptsRaw}
        GROUP BY account_id, source_id, place_id`,
      `CREATE TABLE IF NOT EXISTS {db}.${tables.receiptRuns} (
        account_id LowCardinality(String),
        from_position UInt64,
        to_position UInt64,
        receipts UInt32,
        units UInt64,
        revenue Decimal(38, 2),
        first_ts DateTime64(3, 'UTC'),
        last_ts DateTime64(3, 'UTC'),
        computed_at DateTime64(3, 'UTC')
      ) ENGINE = MergeTree ORDER BY (account_id, from_position)
      SETTINGS non_replicated_deduplication_window = ${DEDUP_WINDOW}`,
    ],
  },
]
