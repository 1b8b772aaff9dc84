import type { Migration } from './migrations.ts'
import { tables } from './tables.ts'

/** Claimed batches and ids seen stay deduplicated over this many recent inserts per table. */
const CLAIM_WINDOW = 10_000

/**
 * Tables of the projection workers that share a partitioned log (Kafka) as a consumer group:
 * each batch's offset range as first claimed, and each record's (stream, id) with where it is.
 */
export const partitionedMigrations: readonly Migration[] = [
  {
    version: 50,
    name: 'partitioned log: batch claims and ids seen',
    statements: [
      // A claim is inserted with a deduplication token naming its first offset, so the first
      // claim of a range wins and every later one (a zombie's, a restart's) is dropped.
      `CREATE TABLE IF NOT EXISTS {db}.${tables.projectionBatches} (
        group_name LowCardinality(String),
        topic LowCardinality(String),
        partition UInt32,
        generation UInt32,
        from_offset UInt64,
        to_offset UInt64,
        claimed_at DateTime64(3, 'UTC')
      ) ENGINE = MergeTree ORDER BY (group_name, topic, partition, generation, from_offset)
      SETTINGS non_replicated_deduplication_window = ${CLAIM_WINDOW}`,
      `CREATE TABLE IF NOT EXISTS {db}.${tables.logIds} (
        topic LowCardinality(String),
        stream String,
        id String,
        partition UInt32,
        offset UInt64
      ) ENGINE = MergeTree ORDER BY (topic, stream, id)
      SETTINGS non_replicated_deduplication_window = ${CLAIM_WINDOW}`,
    ],
  },
]
