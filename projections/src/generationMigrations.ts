import type { Migration } from './migration.ts'
import { tables } from './tables.ts'

/** Generations of the projections' tables (runtime/generations.ts). Versions 61–69: 60 is the quarantine's. */
export const generationMigrations: readonly Migration[] = [
  {
    version: 61,
    name: 'projection generations',
    statements: [
      `CREATE TABLE IF NOT EXISTS {db}.${tables.projectionGenerations} (
        projection_name LowCardinality(String),
        generation UInt32,
        stage Enum8('building' = 1, 'switching' = 2, 'serving' = 3, 'cancelled' = 4),
        plan String,
        target String,
        at DateTime64(3, 'UTC')
      ) ENGINE = MergeTree ORDER BY (projection_name, generation, stage)`,
    ],
  },
]
