import type { Logger } from 'pino'
import { z } from 'zod'
import { appAnalyticsMigrations } from './appAnalyticsMigrations.ts'
import { deviceReadingsMigrations } from './deviceReadingsMigrations.ts'
import { generationMigrations } from './generationMigrations.ts'
import type { Migration } from './migration.ts'
import { partitionedMigrations } from './partitionedMigrations.ts'
import { receiptsMigrations } from './receiptsMigrations.ts'
import { quarantineMigrations } from './runtime/quarantineStore.ts'
import { storeStatsMigrations } from './storeStatsMigrations.ts'
import { tables } from './tables.ts'
import { defineQuery, defineStatement, noParams } from './warehouse/namedStatements.ts'
import type { Warehouse } from './warehouse/warehouse.ts'

/** Insert deduplication keeps this many recent batch tokens per table: far more than can be in doubt. */
const DEDUP_WINDOW = 10_000

export const coreMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'checkpoints',
    statements: [
      `CREATE TABLE IF NOT EXISTS {db}.${tables.checkpoints} (
        projection_name LowCardinality(String),
        partition UInt32,
        generation UInt32,
        committed UInt64,
        pending_to Nullable(UInt64),
        progress UInt64,
        updated_at DateTime64(3, 'UTC')
      ) ENGINE = ReplacingMergeTree(progress) ORDER BY (projection_name, partition)`,
    ],
  },
  {
    version: 2,
    name: 'events and hourly rollup',
    statements: [
      `CREATE TABLE IF NOT EXISTS {db}.${tables.eventsRaw} (
        account_id LowCardinality(String),
        source_id LowCardinality(String),
        position UInt64,
        id String,
        name LowCardinality(String),
        ts DateTime64(3, 'UTC'),
        received_at DateTime64(3, 'UTC'),
        subject String,
        session String,
        attrs String
      ) ENGINE = MergeTree ORDER BY (account_id, source_id, ts, position)
      SETTINGS non_replicated_deduplication_window = ${DEDUP_WINDOW}`,
      `CREATE TABLE IF NOT EXISTS {db}.${tables.rollupHourly} (
        account_id LowCardinality(String),
        source_id LowCardinality(String),
        hour DateTime('UTC'),
        name LowCardinality(String),
        events SimpleAggregateFunction(sum, UInt64),
        subjects AggregateFunction(uniqExact, String)
      ) ENGINE = AggregatingMergeTree ORDER BY (account_id, source_id, hour, name)
      SETTINGS non_replicated_deduplication_window = ${DEDUP_WINDOW}`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.${tables.rollupHourlyView} TO {db}.${tables.rollupHourly} AS
        SELECT account_id, source_id, toStartOfHour(ts) AS hour, name,
               count() AS events, uniqExactStateIf(subject, subject != '') AS subjects
        FROM {db}.${tables.eventsRaw}
        GROUP BY account_id, source_id, hour, name`,
    ],
  },
]

/** Every migration, in the order they apply. */
export const migrations: readonly Migration[] = [
  ...coreMigrations,
  ...appAnalyticsMigrations,
  ...storeStatsMigrations,
  ...receiptsMigrations,
  ...deviceReadingsMigrations,
  ...partitionedMigrations,
  ...quarantineMigrations,
  ...generationMigrations,
].sort((a, b) => a.version - b.version)

const migrationsTable = defineStatement({
  name: 'migrations table',
  kind: 'schema',
  params: noParams,
  sql: (w) => `CREATE TABLE IF NOT EXISTS ${w.table(tables.migrations)} (
    version UInt32, name String, applied_at DateTime64(3, 'UTC')
  ) ENGINE = MergeTree ORDER BY version`,
})

const appliedMigrations = defineQuery({
  name: 'applied migrations',
  params: noParams,
  row: z.object({ version: z.coerce.number(), name: z.string() }),
  sql: (w) => `SELECT version, name FROM ${w.table(tables.migrations)}`,
})

/** One statement of a migration: its text names the database as `{db}`. */
const migrationStep = (migration: Migration, statement: string, database: string) =>
  defineStatement({
    name: `migration ${migration.version} (${migration.name})`,
    kind: 'schema',
    params: noParams,
    sql: () => statement.replaceAll('{db}', database),
  })

/**
 * Whether a migration already ran: recorded under its name (at any number), or recorded under its
 * version with a name no migration has any more (a rename). Two lines of work once both took version 60
 * (the quarantine kept it, generations moved to 61), so a warehouse that ran either 60 still gets the
 * other; both only create what is missing.
 */
export function migrationApplied(
  migration: Migration,
  applied: readonly { version: number; name: string }[],
): boolean {
  const known = new Set(migrations.map((m) => m.name))
  return applied.some(
    (row) => row.name === migration.name || (row.version === migration.version && !known.has(row.name)),
  )
}

/** Applies the migrations the warehouse has not seen, in order. Safe to run at every start. */
export async function migrateWarehouse(warehouse: Warehouse, logger?: Logger): Promise<number[]> {
  await warehouse.run(migrationsTable, {})
  const applied = await warehouse.select(appliedMigrations, {})
  const done: number[] = []
  for (const migration of migrations) {
    if (migrationApplied(migration, applied)) continue
    for (const statement of migration.statements) {
      await warehouse.run(migrationStep(migration, statement, warehouse.database), {})
    }
    await warehouse.insert(tables.migrations, [
      { version: migration.version, name: migration.name, applied_at: Date.now() },
    ])
    logger?.info({ version: migration.version, migration: migration.name }, 'warehouse migration applied')
    done.push(migration.version)
  }
  return done
}
