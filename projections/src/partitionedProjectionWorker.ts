import type { LogRecord, PartitionLease } from '@hourglass/log'
import type { Logger } from 'pino'
import { z } from 'zod'
import type { CheckpointStore } from './checkpointStore.ts'
import { type Projection, projectionKey } from './projection.ts'
import { tables } from './tables.ts'
import type { Warehouse } from './warehouse.ts'

export interface PartitionBatchReport {
  readonly partition: number
  readonly from: number
  readonly to: number
  /** Records counted (re-sent ids left out). */
  readonly fresh: number
  readonly insertMs: number
}

export interface PartitionedProjectionWorkerOptions {
  /** This worker's share of the log's partitions (a consumer-group member). */
  readonly lease: PartitionLease
  readonly warehouse: Warehouse
  readonly checkpoints: CheckpointStore
  readonly projections: readonly Projection[]
  /** The group's name: claims are the group's, shared by all its workers. */
  readonly group: string
  readonly logger: Logger
  /** Most records per batch. */
  readonly batchSize?: number
  /** Called once a batch is in the warehouse and checkpointed. */
  readonly onBatch?: (report: PartitionBatchReport) => void
}

export interface PartitionedProjectionWorker {
  start(): Promise<void>
  close(): Promise<void>
  /** Per partition this worker holds: the next offset to project, once known. */
  positions(): ReadonlyMap<number, number>
  readonly lastError: string | null
}

/** Partitioned logs have no replay (yet): every claim and token is of generation 0. */
const GENERATION = 0
const RETRY_MIN_MS = 200
const RETRY_MAX_MS = 5_000

const ClaimRow = z.object({ to_offset: z.coerce.number().int() })
const IdRow = z.object({ stream: z.string(), id: z.string() })

/**
 * Runs projections over a partitioned log as one member of a group of workers, exactly once
 * in effect even when workers die, stall and come back after their partitions moved on:
 *
 * 1. A batch is one contiguous offset range of one partition. Its end is claimed in the
 *    warehouse under a deduplication token naming (group, topic, partition, first offset):
 *    the first claim of a range wins, and whoever projects that range later (a restarted
 *    worker, the new owner after a rebalance, a zombie that wakes up) reads the claim back and
 *    projects exactly that range. So a batch is the same batch whoever builds it.
 * 2. Re-sent ids are dropped deterministically: a record whose (stream, id) appears earlier in
 *    the log (an earlier offset of its partition: a stream lives in one partition) is skipped.
 * 3. Every insert carries a token of topic, partition, range, projection, table and insert
 *    number: a batch written twice leaves the warehouse as if written once.
 * 4. Then the projections' checkpoints for that partition move (never backwards: see
 *    checkpointProgress), and only then the consumer group's offset is committed. A worker
 *    resumes from the warehouse checkpoint even if Kafka's committed offset is behind it.
 */
export function createPartitionedProjectionWorker(
  options: PartitionedProjectionWorkerOptions,
): PartitionedProjectionWorker {
  const { lease, warehouse, checkpoints, projections, group, logger } = options
  const batchSize = options.batchSize ?? 5000
  const topic = lease.topic
  const log_ = logger.child({ group, topic })
  const positions = new Map<number, number>()
  let lastError: string | null = null
  let abort: AbortController | null = null
  let loop: Promise<void> | null = null

  const sleep = (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        resolve()
      }
      signal.addEventListener('abort', done, { once: true })
    })

  /** Where a partition resumes: the least checkpoint of the projections (each may be a batch apart). */
  const resumePoint = async (partition: number) => {
    let least = Number.POSITIVE_INFINITY
    for (const projection of projections) {
      const checkpoint = await checkpoints.load(projectionKey(projection), partition)
      least = Math.min(least, checkpoint.committed)
    }
    return Number.isFinite(least) ? least : 0
  }

  /** The end of the batch starting at `from`: ours if we claim first, else the first claimant's. */
  const claim = async (partition: number, from: number, to: number) => {
    const table = warehouse.table(tables.projectionBatches)
    await warehouse.client.insert({
      table,
      values: [
        {
          group_name: group,
          topic,
          partition,
          generation: GENERATION,
          from_offset: from,
          to_offset: to,
          claimed_at: Date.now(),
        },
      ],
      format: 'JSONEachRow',
      clickhouse_settings: {
        insert_deduplicate: 1,
        insert_deduplication_token: `claim:${group}:${topic}:${partition}:g${GENERATION}:${from}`,
        async_insert: 0,
      },
    })
    const result = await warehouse.client.query({
      query: `SELECT to_offset FROM ${table}
              WHERE group_name = {group:String} AND topic = {topic:String} AND partition = {partition:UInt32}
                AND generation = {generation:UInt32} AND from_offset = {from:UInt64}
              ORDER BY claimed_at, to_offset LIMIT 1`,
      query_params: { group, topic, partition, generation: GENERATION, from },
      format: 'JSONEachRow',
    })
    const row = z.array(ClaimRow).parse(await result.json())[0]
    if (!row) throw new Error(`the claim of batch ${topic}/${partition}@${from} was not found after insert`)
    return row.to_offset
  }

  /** The records whose (stream, id) no earlier offset holds, first occurrence first. */
  const dropSeen = async (partition: number, from: number, records: readonly LogRecord[]) => {
    const streams = [...new Set(records.map((r) => r.stream))]
    const ids = [...new Set(records.map((r) => r.id))]
    const result = await warehouse.client.query({
      query: `SELECT stream, id FROM ${warehouse.table(tables.logIds)}
              WHERE topic = {topic:String} AND stream IN {streams:Array(String)} AND id IN {ids:Array(String)}
                AND NOT (partition = {partition:UInt32} AND offset >= {from:UInt64})`,
      query_params: { topic, streams, ids, partition, from },
      format: 'JSONEachRow',
      use_multipart_params: true,
    })
    const seen = new Set(
      z
        .array(IdRow)
        .parse(await result.json())
        .map((r) => `${r.stream}\u0000${r.id}`),
    )
    const fresh: LogRecord[] = []
    for (const record of records) {
      const key = `${record.stream}\u0000${record.id}`
      if (seen.has(key)) continue
      seen.add(key)
      fresh.push(record)
    }
    return fresh
  }

  const tokenOf = (partition: number, from: number, to: number) =>
    `${topic}:${partition}:g${GENERATION}:${from}-${to}`

  const insertWithToken =
    (token: string) =>
    async (table: string, rows: readonly object[], n: number): Promise<void> => {
      if (rows.length === 0) return
      await warehouse.client.insert({
        table: warehouse.table(table),
        values: rows as object[],
        format: 'JSONEachRow',
        clickhouse_settings: {
          insert_deduplicate: 1,
          insert_deduplication_token: `${token}:${table}:${n}`,
          deduplicate_blocks_in_dependent_materialized_views: 1,
          async_insert: 0,
        },
      })
    }

  /** Projects one claimed batch; returns the offset after it. */
  const projectBatch = async (partition: number, polled: readonly LogRecord[]) => {
    const started = performance.now()
    const from = polled[0]!.position
    const proposed = polled[polled.length - 1]!.position + 1
    const to = await claim(partition, from, proposed)
    let records = polled.slice(0, Math.max(0, to - from))
    if (to > proposed)
      records = [...records, ...(await lease.readPartition(partition, proposed, to - proposed))]
    if (records.length !== to - from || records[records.length - 1]?.position !== to - 1) {
      throw new Error(`batch ${topic}/${partition} ${from}-${to}: got ${records.length} records`)
    }
    const fresh = await dropSeen(partition, from, records)
    const token = tokenOf(partition, from, to)
    await insertWithToken(`${token}:ids`)(
      tables.logIds,
      fresh.map((r) => ({ topic, stream: r.stream, id: r.id, partition, offset: r.position })),
      0,
    )
    for (const projection of projections) {
      const key = projectionKey(projection)
      if (fresh.length > 0) {
        const insert = insertWithToken(`${token}:${key}`)
        let n = 0
        await projection.apply(fresh, { warehouse, insert: (table, rows) => insert(table, rows, n++) })
      }
      await checkpoints.save(key, { committed: to, pending: null, generation: GENERATION }, partition)
    }
    const insertMs = performance.now() - started
    try {
      await lease.commit(partition, to)
    } catch (error) {
      // After a rebalance the group refuses this member's commit; the warehouse checkpoint,
      // which is what workers resume from, has already moved.
      log_.warn({ err: error, partition, offset: to }, 'consumer group offset not committed')
    }
    options.onBatch?.({ partition, from, to, fresh: fresh.length, insertMs })
    return to
  }

  const run = async (signal: AbortSignal) => {
    await lease.start()
    let assignment: readonly number[] = []
    let delay = RETRY_MIN_MS
    while (!signal.aborted) {
      const current = lease.assigned()
      if (current !== assignment) {
        // A new assignment: positions are read again from the warehouse checkpoints.
        assignment = current
        positions.clear()
        log_.info({ partitions: current }, 'partitions assigned')
      }
      if (assignment.length === 0) {
        await sleep(200, signal)
        continue
      }
      try {
        for (const partition of assignment) {
          if (signal.aborted) break
          let next = positions.get(partition)
          if (next === undefined) {
            next = await resumePoint(partition)
            positions.set(partition, next)
          }
          const waitMs = Math.ceil(200 / assignment.length)
          const polled = await lease.poll(partition, next, batchSize, waitMs, signal)
          if (polled.length === 0 || signal.aborted) continue
          positions.set(partition, await projectBatch(partition, polled))
        }
        lastError = null
        delay = RETRY_MIN_MS
      } catch (error) {
        if (signal.aborted) return
        lastError = error instanceof Error ? error.message : String(error)
        log_.error({ err: error, retryInMs: delay }, 'projection batch failed; retrying it')
        // Positions are kept: the same claimed ranges are projected again.
        await sleep(delay, signal)
        delay = Math.min(delay * 2, RETRY_MAX_MS)
      }
    }
  }

  return {
    positions: () => positions,
    get lastError() {
      return lastError
    },
    async start() {
      if (loop) return
      const controller = new AbortController()
      abort = controller
      loop = run(controller.signal).catch((error: unknown) => {
        lastError = error instanceof Error ? error.message : String(error)
        log_.fatal({ err: error }, 'projection worker stopped')
      })
    },
    async close() {
      abort?.abort()
      await loop
      loop = null
      await lease.close()
    },
  }
}
