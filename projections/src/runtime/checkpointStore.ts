import { z } from 'zod'
import { tables } from '../tables.ts'
import { defineQuery } from '../warehouse/namedStatements.ts'
import type { Warehouse } from '../warehouse/warehouse.ts'

/**
 * Where a projection stands in one partition of the log. `pending` is the exact range of the
 * batch being written by a single writer: after a crash that range is repaired, so nothing of it
 * is lost or counted twice.
 */
export interface Checkpoint {
  /** Every record before this position is in the warehouse. */
  readonly committed: number
  readonly pending: { readonly from: number; readonly to: number } | null
  /** Bumped by each replay, so a rebuild's batches never collide with earlier tokens. */
  readonly generation: number
}

export interface CheckpointStore {
  load(projection: string, partition: number): Promise<Checkpoint>
  save(projection: string, checkpoint: Checkpoint, partition: number): Promise<void>
}

const GENERATION_SHIFT = 2n ** 43n

/**
 * Orders checkpoint rows so the newest state always wins, even against a stale writer:
 * a later generation, then further progress, and a pending batch before its own commit.
 */
export const checkpointProgress = (c: Checkpoint): bigint =>
  BigInt(c.generation) * GENERATION_SHIFT +
  (c.pending ? BigInt(c.pending.to) * 2n : BigInt(c.committed) * 2n + 1n)

const latestCheckpoint = defineQuery({
  name: 'latest checkpoint',
  params: z.object({ projection: z.string(), partition: z.number().int().min(0) }),
  row: z.object({
    generation: z.coerce.number().int(),
    committed: z.coerce.number().int(),
    pending_to: z.coerce.number().int().nullable(),
  }),
  sql: (w) => `SELECT generation, committed, pending_to FROM ${w.table(tables.checkpoints)}
               WHERE projection_name = {projection:String} AND partition = {partition:UInt32}
               ORDER BY progress DESC LIMIT 1`,
})

/** Checkpoints kept in the warehouse beside the tables they describe: drop both and a rebuild starts at 0. */
export function createWarehouseCheckpointStore(warehouse: Warehouse): CheckpointStore {
  return {
    async load(projection, partition) {
      const [row] = await warehouse.select(latestCheckpoint, { projection, partition })
      if (!row) return { committed: 0, pending: null, generation: 0 }
      return {
        generation: row.generation,
        committed: row.committed,
        pending: row.pending_to === null ? null : { from: row.committed, to: row.pending_to },
      }
    },
    async save(projection, checkpoint, partition) {
      await warehouse.insert(tables.checkpoints, [
        {
          projection_name: projection,
          partition,
          generation: checkpoint.generation,
          committed: checkpoint.committed,
          pending_to: checkpoint.pending?.to ?? null,
          progress: checkpointProgress(checkpoint).toString(),
          updated_at: Date.now(),
        },
      ])
    },
  }
}
