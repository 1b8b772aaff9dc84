import type { Migration } from './migration.ts'
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
  {
    version: 51,
    name: 'partitioned log: control cuts, erasures, replays',
    statements: [
      // Control-plane records below a batch's cut precede it (definitions apply to it). Batch
      // boundaries and cuts are permanent: a replay projects the same batches again.
      `ALTER TABLE {db}.${tables.projectionBatches} ADD COLUMN IF NOT EXISTS control_cut UInt64 DEFAULT 0`,
      // The first cut recorded for an erasure in a partition stands (deduplication token, then
      // the earliest row): a person's events below that offset are erased there.
      `CREATE TABLE IF NOT EXISTS {db}.${tables.erasureCuts} (
        topic LowCardinality(String),
        partition UInt32,
        erasure_position UInt64,
        cut UInt64,
        recorded_at DateTime64(3, 'UTC')
      ) ENGINE = MergeTree ORDER BY (topic, partition, erasure_position)
      SETTINGS non_replicated_deduplication_window = ${CLAIM_WINDOW}`,
      `CREATE TABLE IF NOT EXISTS {db}.${tables.erasureSteps} (
        topic LowCardinality(String),
        erasure_position UInt64,
        projection_name LowCardinality(String),
        generation UInt32,
        partition UInt32,
        stage Enum8('counted' = 1, 'applied' = 2, 'completed' = 3),
        events UInt64,
        at DateTime64(3, 'UTC')
      ) ENGINE = MergeTree ORDER BY (topic, erasure_position, projection_name, generation, partition)
      SETTINGS non_replicated_deduplication_window = ${CLAIM_WINDOW}`,
      `CREATE TABLE IF NOT EXISTS {db}.${tables.projectionReplays} (
        projection_name LowCardinality(String),
        generation UInt32,
        stage Enum8('requested' = 1, 'open' = 2),
        at DateTime64(3, 'UTC')
      ) ENGINE = MergeTree ORDER BY (projection_name, generation, stage)`,
      `CREATE TABLE IF NOT EXISTS {db}.${tables.projectionReplayAcks} (
        projection_name LowCardinality(String),
        generation UInt32,
        member_id String,
        at DateTime64(3, 'UTC')
      ) ENGINE = MergeTree ORDER BY (projection_name, generation, member_id)`,
    ],
  },
]
