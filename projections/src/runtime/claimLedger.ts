import type { TelemetryRecord } from '@hourglass/log'
import { z } from 'zod'
import { tables } from '../tables.ts'
import { defineQuery } from '../warehouse/namedStatements.ts'
import type { Warehouse } from '../warehouse/warehouse.ts'
import type { BatchLedger, PartitionLedger } from './batchLedger.ts'
import type { CheckpointStore } from './checkpointStore.ts'

/** Batch boundaries and control cuts are permanent: every generation projects the same batches. */
const CLAIM_GENERATION = 0

const Partition = z.object({
  group: z.string(),
  topic: z.string(),
  partition: z.number().int().min(0),
  generation: z.number().int().min(0),
})

const claimsEnd = defineQuery({
  name: 'end of the claimed batches of a partition',
  params: Partition,
  row: z.object({ end: z.coerce.number().int() }),
  sql: (w) => `SELECT max(to_offset) AS end FROM ${w.table(tables.projectionBatches)}
               WHERE group_name = {group:String} AND topic = {topic:String} AND partition = {partition:UInt32}
                 AND generation = {generation:UInt32}`,
})

const claimAt = defineQuery({
  name: 'the first claim of a batch',
  params: Partition.extend({ from: z.number().int().min(0) }),
  row: z.object({ to_offset: z.coerce.number().int(), control_cut: z.coerce.number().int() }),
  sql: (w) => `SELECT to_offset, control_cut FROM ${w.table(tables.projectionBatches)}
               WHERE group_name = {group:String} AND topic = {topic:String} AND partition = {partition:UInt32}
                 AND generation = {generation:UInt32} AND from_offset = {from:UInt64}
               ORDER BY claimed_at, to_offset LIMIT 1`,
})

const idsSeenBefore = defineQuery({
  name: 'ids an earlier batch counted',
  params: z.object({
    topic: z.string(),
    streams: z.array(z.string()),
    ids: z.array(z.string()),
    partition: z.number().int().min(0),
    from: z.number().int().min(0),
  }),
  row: z.object({ stream: z.string(), id: z.string() }),
  sql: (w) => `SELECT stream, id FROM ${w.table(tables.logIds)}
               WHERE topic = {topic:String} AND stream IN {streams:Array(String)} AND id IN {ids:Array(String)}
                 AND NOT (partition = {partition:UInt32} AND offset >= {from:UInt64})`,
})

/**
 * Exactly-once for a log read by a group of workers that come and go (Kafka's consumer group),
 * even when workers die, stall and come back after their partitions moved on:
 *
 * 1. A batch is one offset range of one partition. Its end is claimed in the warehouse under a
 *    deduplication token naming (group, topic, partition, first offset): the first claim of a
 *    range wins, and whoever projects that range later (a restarted worker, the new owner after
 *    a rebalance, a zombie that wakes up, a replay) reads the claim back and projects exactly
 *    that range, with the control cut the claim recorded.
 * 2. Re-sent ids are dropped deterministically: a record whose (stream, id) appears at an
 *    earlier offset (a stream lives in one partition) is skipped.
 * 3. Every insert carries a token of topic, partition, generation, range, projection, table and
 *    insert number: a batch written twice leaves the warehouse as if written once.
 * 4. Then the lane's checkpoint for that partition moves (never backwards: checkpointProgress).
 */
export function createClaimLedger(options: {
  warehouse: Warehouse
  checkpoints: CheckpointStore
  /** The group's name: claims are the group's, shared by all its workers. */
  group: string
  topic: string
}): BatchLedger {
  const { warehouse, checkpoints, group, topic } = options
  return {
    async open(partition): Promise<PartitionLedger> {
      const scope = { group, topic, partition, generation: CLAIM_GENERATION }
      const [end] = await warehouse.select(claimsEnd, scope)
      /** Ranges below it may be claimed already: they are looked up before being claimed. */
      let claimedEnd = end?.end ?? 0
      const findClaim = async (from: number) => {
        const [row] = await warehouse.select(claimAt, { ...scope, from })
        return row ? { from, to: row.to_offset, cut: row.control_cut } : null
      }
      return {
        async resume(key) {
          const checkpoint = await checkpoints.load(key, partition)
          return { committed: checkpoint.committed, generation: checkpoint.generation }
        },
        async settle(from, proposedTo, controlHead) {
          if (from < claimedEnd) {
            const existing = await findClaim(from)
            if (existing) return existing
          }
          await warehouse.insert(
            tables.projectionBatches,
            [
              {
                group_name: group,
                topic,
                partition,
                generation: CLAIM_GENERATION,
                from_offset: from,
                to_offset: proposedTo,
                control_cut: controlHead,
                claimed_at: Date.now(),
              },
            ],
            { token: `claim:${group}:${topic}:${partition}:g${CLAIM_GENERATION}:${from}` },
          )
          const claimed = await findClaim(from)
          if (!claimed)
            throw new Error(`the claim of batch ${topic}/${partition}@${from} was not found after insert`)
          claimedEnd = Math.max(claimedEnd, claimed.to)
          return claimed
        },
        async fresh(batch, records, leading) {
          const fresh = await dropSeen(warehouse, { topic, partition, from: batch.from }, records)
          // A lagging lane's range was finished by a leading one, ids included.
          if (leading) {
            await warehouse.insert(
              tables.logIds,
              fresh.map((r) => ({ topic, stream: r.stream, id: r.id, partition, offset: r.position })),
              { token: `${topic}:${partition}:g${CLAIM_GENERATION}:${batch.from}-${batch.to}:ids:0` },
            )
          }
          return fresh
        },
        // A re-sent id is found by asking what earlier offsets hold, a batch's records at once.
        keepsEveryRecord: false,
        async write(lane, batch, apply) {
          let n = 0
          await apply(
            (table, rows) =>
              warehouse.insert(table, rows, {
                token: `${topic}:${partition}:g${lane.generation}:${batch.from}-${batch.to}:${lane.key}:${table}:${n++}`,
              }),
            null,
          )
        },
        async advance(lane, to) {
          await checkpoints.save(
            lane.key,
            { committed: to, pending: null, generation: lane.generation },
            partition,
          )
        },
        flush: async () => {},
      }
    },
  }
}

/** The records whose (stream, id) no earlier offset holds, first occurrence first. */
async function dropSeen(
  warehouse: Warehouse,
  at: { topic: string; partition: number; from: number },
  records: readonly TelemetryRecord[],
): Promise<TelemetryRecord[]> {
  if (records.length === 0) return []
  const streams = [...new Set(records.map((r) => r.stream))]
  const ids = [...new Set(records.map((r) => r.id))]
  const rows = await warehouse.select(idsSeenBefore, { ...at, streams, ids })
  const seen = new Set(rows.map((r) => `${r.stream}\u0000${r.id}`))
  const fresh: TelemetryRecord[] = []
  for (const record of records) {
    const key = `${record.stream}\u0000${record.id}`
    if (seen.has(key)) continue
    seen.add(key)
    fresh.push(record)
  }
  return fresh
}
