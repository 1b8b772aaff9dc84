import { z } from 'zod'
import { tables } from './tables.ts'
import type { Warehouse } from './warehouse.ts'

/**
 * Where a projection stands in the log. `pending` is the exact range of the batch being
 * written: after a crash that range is repaired, so nothing of it is lost or counted twice.
 */
export interface Checkpoint {
  /** Every record before this position is in the warehouse. */
  readonly committed: number
  readonly pending: { readonly from: number; readonly to: number } | null
  /** Bumped by each replay, so a rebuild's batches never collide with earlier tokens. */
  readonly generation: number
}

export interface CheckpointStore {
  load(projection: string, partition?: number): Promise<Checkpoint>
  save(projection: string, checkpoint: Checkpoint, partition?: number): Promise<void>
}

const GENERATION_SHIFT = 2n ** 43n

/**
 * Orders checkpoint rows so the newest state always wins, even against a stale writer:
 * a later generation, then further progress, and a pending batch before its own commit.
 */
export const checkpointProgress = (c: Checkpoint): bigint =>
  BigInt(c.generation) * GENERATION_SHIFT +
  (c.pending ? BigInt(c.pending.to) * 2n : BigInt(c.committed) * 2n + 1n)

const Row = z.object({
  generation: z.coerce.number().int(),
  committed: z.coerce.number().int(),
  pending_to: z.coerce.number().int().nullable(),
})

/** Checkpoints kept in the warehouse beside the tables they describe: drop both and a rebuild starts at 0. */
export function createWarehouseCheckpointStore(warehouse: Warehouse): CheckpointStore {
  const table = warehouse.table(tables.checkpoints)
  return {
    async load(projection, partition = 0) {
      const result = await warehouse.client.query({
        query: `SELECT generation, committed, pending_to FROM ${table}
                WHERE projection_name = {projection:String} AND partition = {partition:UInt32}
                ORDER BY progress DESC LIMIT 1`,
        query_params: { projection, partition },
        format: 'JSONEachRow',
      })
      const row = z.array(Row).parse(await result.json())[0]
      if (!row) return { committed: 0, pending: null, generation: 0 }
      return {
        generation: row.generation,
        committed: row.committed,
        pending: row.pending_to === null ? null : { from: row.committed, to: row.pending_to },
      }
    },
    async save(projection, checkpoint, partition = 0) {
      await warehouse.client.insert({
        table,
        values: [
          {
            projection_name: projection,
            partition,
            generation: checkpoint.generation,
            committed: checkpoint.committed,
            pending_to: checkpoint.pending?.to ?? null,
            progress: checkpointProgress(checkpoint).toString(),
            updated_at: Date.now(),
          },
        ],
        format: 'JSONEachRow',
      })
    },
  }
}
