import type { TelemetryRecord } from '@hourglass/log'
import { z } from 'zod'
import type { Migration } from '../migration.ts'
import { tables } from '../tables.ts'
import { defineQuery } from '../warehouse/namedStatements.ts'
import type { Warehouse } from '../warehouse/warehouse.ts'

/** `held`: set aside, counted nowhere; `retried`: re-driven and counted once; `dropped`: given up by an operator. */
export const QUARANTINE_STATUSES = ['held', 'retried', 'dropped'] as const
export type QuarantineStatus = (typeof QUARANTINE_STATUSES)[number]

/** A record one projection could not apply, where it is in the log, and why. */
export interface QuarantinedRecord {
  /** The projection's key (`name@vN`). */
  readonly projection: string
  readonly generation: number
  /** The log's name (the Kafka topic, or `embedded`). */
  readonly topic: string
  readonly partition: number
  readonly position: number
  /** The record's stream: the source (or store, fleet) it came from. */
  readonly stream: string
  readonly recordId: string
  readonly recordType: string
  /** The engine's name for the error (e.g. CANNOT_PARSE_ESCAPE_SEQUENCE), or Hourglass's code. */
  readonly errorCode: string
  readonly errorMessage: string
  readonly status: QuarantineStatus
  /** Re-drives tried so far. */
  readonly attempts: number
  readonly quarantinedAt: string
  readonly updatedAt: string
}

export const quarantineMigrations: readonly Migration[] = [
  {
    version: 60,
    name: 'projection quarantine',
    statements: [
      // One row per (projection, record); each change of state writes a newer revision.
      `CREATE TABLE IF NOT EXISTS {db}.${tables.projectionQuarantine} (
        projection_name LowCardinality(String),
        generation UInt32,
        topic LowCardinality(String),
        partition UInt32,
        position UInt64,
        stream String,
        record_id String,
        record_type LowCardinality(String),
        error_code LowCardinality(String),
        error_message String,
        status LowCardinality(String),
        attempts UInt32,
        quarantined_at DateTime64(3, 'UTC'),
        updated_at DateTime64(3, 'UTC'),
        revision UInt64
      ) ENGINE = ReplacingMergeTree(revision) ORDER BY (projection_name, topic, partition, position)`,
    ],
  },
]

const Row = z.object({
  projection_name: z.string(),
  generation: z.coerce.number().int(),
  topic: z.string(),
  partition: z.coerce.number().int(),
  position: z.coerce.number().int(),
  stream: z.string(),
  record_id: z.string(),
  record_type: z.string(),
  error_code: z.string(),
  error_message: z.string(),
  status: z.enum(QUARANTINE_STATUSES),
  attempts: z.coerce.number().int(),
  quarantined_at: z.string(),
  updated_at: z.string(),
})

const COLUMNS = `projection_name, generation, topic, partition, position, stream, record_id, record_type,
  error_code, error_message, status, attempts, toString(quarantined_at) AS quarantined_at,
  toString(updated_at) AS updated_at`

export const QuarantineFilter = z.object({
  projection: z.string().optional().describe('a projection key (`name@vN`); every projection when absent'),
  status: z.enum(QUARANTINE_STATUSES).optional().describe('only records in this state'),
  position: z.number().int().min(0).optional().describe('only the record at this log position'),
})
export type QuarantineFilter = z.infer<typeof QuarantineFilter>

const listQuery = defineQuery({
  name: 'quarantined records',
  params: z.object({ projection: z.string(), status: z.string(), position: z.number().int() }),
  row: Row,
  sql: (w) => `SELECT ${COLUMNS} FROM ${w.table(tables.projectionQuarantine)} FINAL
               WHERE ({projection:String} = '' OR projection_name = {projection:String})
                 AND ({status:String} = '' OR status = {status:String})
                 AND ({position:Int64} < 0 OR position = {position:Int64})
               ORDER BY projection_name, topic, partition, position LIMIT 10000`,
})

/** Records of one stream (a source's) held for any projection. */
export const quarantinedOfStream = defineQuery({
  name: 'quarantined records of a stream',
  params: z.object({ stream: z.string() }),
  row: z.object({ held: z.coerce.number().int() }),
  sql: (w) => `SELECT count() AS held FROM ${w.table(tables.projectionQuarantine)} FINAL
               WHERE stream = {stream:String} AND status = 'held'`,
})

const heldCounts = defineQuery({
  name: 'quarantined records held per projection',
  params: z.object({}),
  row: z.object({ projection_name: z.string(), held: z.coerce.number().int() }),
  sql: (w) => `SELECT projection_name, count() AS held FROM ${w.table(tables.projectionQuarantine)} FINAL
               WHERE status = 'held' GROUP BY projection_name`,
})

/** Records held (not yet re-driven or dropped), per projection key. */
export async function quarantinedPerProjection(
  reader: Pick<Warehouse, 'select' | 'table'>,
): Promise<Map<string, number>> {
  const rows = await reader.select(heldCounts, {})
  return new Map(rows.map((row) => [row.projection_name, row.held]))
}

const toRecord = (row: z.infer<typeof Row>): QuarantinedRecord => ({
  projection: row.projection_name,
  generation: row.generation,
  topic: row.topic,
  partition: row.partition,
  position: row.position,
  stream: row.stream,
  recordId: row.record_id,
  recordType: row.record_type,
  errorCode: row.error_code,
  errorMessage: row.error_message,
  status: row.status,
  attempts: row.attempts,
  quarantinedAt: `${row.quarantined_at.replace(' ', 'T')}Z`,
  updatedAt: `${row.updated_at.replace(' ', 'T')}Z`,
})

/** Where records that projections could not apply are kept: a warehouse table, shared by every worker. */
export interface QuarantineStore {
  /** Sets records aside for one projection lane. */
  hold(
    lane: { key: string; generation: number },
    at: { topic: string; partition: number },
    faults: readonly { record: TelemetryRecord; code: string; message: string }[],
  ): Promise<void>
  /** A record's new state after a re-drive or an operator's decision. */
  update(
    record: QuarantinedRecord,
    change: { status: QuarantineStatus; attempts?: number; code?: string; message?: string },
  ): Promise<void>
  list(filter?: QuarantineFilter): Promise<QuarantinedRecord[]>
  /** Records held (not yet re-driven or dropped), per projection key. */
  heldCounts(): Promise<Map<string, number>>
}

export function createQuarantineStore(warehouse: Warehouse): QuarantineStore {
  let lastRevision = 0
  // Each change outranks every earlier one this process wrote, even within one millisecond.
  const revision = () => {
    lastRevision = Math.max(Date.now(), lastRevision + 1)
    return lastRevision
  }
  return {
    async hold(lane, at, faults) {
      const now = Date.now()
      await warehouse.insert(
        tables.projectionQuarantine,
        faults.map(({ record, code, message }) => ({
          projection_name: lane.key,
          generation: lane.generation,
          topic: at.topic,
          partition: at.partition,
          position: record.position,
          stream: record.stream,
          record_id: record.id,
          record_type: record.type,
          error_code: code,
          error_message: message,
          status: 'held',
          attempts: 0,
          quarantined_at: now,
          updated_at: now,
          revision: revision(),
        })),
      )
    },
    async update(record, change) {
      await warehouse.insert(tables.projectionQuarantine, [
        {
          projection_name: record.projection,
          generation: record.generation,
          topic: record.topic,
          partition: record.partition,
          position: record.position,
          stream: record.stream,
          record_id: record.recordId,
          record_type: record.recordType,
          error_code: change.code ?? record.errorCode,
          error_message: change.message ?? record.errorMessage,
          status: change.status,
          attempts: change.attempts ?? record.attempts,
          quarantined_at: Date.parse(record.quarantinedAt),
          updated_at: Date.now(),
          revision: revision(),
        },
      ])
    },
    async list(filter = {}) {
      const rows = await warehouse.select(listQuery, {
        projection: filter.projection ?? '',
        status: filter.status ?? '',
        position: filter.position ?? -1,
      })
      return rows.map(toRecord)
    },
    heldCounts: () => quarantinedPerProjection(warehouse),
  }
}

/**
 * At a generation's switch, the records its build set aside become the serving projection's: what
 * the serving tables now lack. Records held for the generation switched out that the build applied
 * are counted in the new tables, so they are closed (a re-drive would count them twice). Safe to
 * run again: what was handed over is held at the new generation and stays so.
 */
export async function handOverQuarantine(
  store: QuarantineStore,
  from: string,
  to: { key: string; generation: number },
): Promise<void> {
  const built = await store.list({ projection: from, status: 'held' })
  const at = (r: QuarantinedRecord) => `${r.topic}/${r.partition}/${r.position}`
  const handed = new Set(built.map(at))
  for (const record of await store.list({ projection: to.key, status: 'held' })) {
    if (record.generation >= to.generation || handed.has(at(record))) continue
    await store.update(record, {
      status: 'retried',
      message: `applied by the rebuild of generation ${to.generation}`,
    })
  }
  for (const record of built) {
    await store.update({ ...record, projection: to.key, generation: to.generation }, { status: 'held' })
    await store.update(record, {
      status: 'dropped',
      message: `held for ${to.key} since generation ${to.generation} serves`,
    })
  }
}
