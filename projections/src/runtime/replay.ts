import { CatalogedError } from '@hourglass/schemas'
import { z } from 'zod'
import { type Projection, projectionKey } from '../projection.ts'
import { tables } from '../tables.ts'
import { defineQuery } from '../warehouse/namedStatements.ts'
import type { Warehouse } from '../warehouse/warehouse.ts'
import type { CheckpointStore } from './checkpointStore.ts'

/**
 * Replay of a projection that a group of workers runs (one embedded worker, or the members of
 * a Kafka consumer group in other processes). Its protocol, through tables in the warehouse:
 *
 * 1. The operator records generation g+1 of the projection as `requested`.
 * 2. Each worker, between two steps of its loop (so with none of its writes in flight), stops
 *    running the projection and records an acknowledgement under its consumer-group member id.
 * 3. Once every live member of the group has acknowledged, nothing writes the projection's
 *    tables: the operator empties them, sets every partition's checkpoint to offset 0 at
 *    generation g+1, and records the generation as `open`.
 * 4. The workers load the new checkpoints and rebuild the projection from offset 0 of every
 *    partition, over the same batches as before (batch boundaries and control cuts are
 *    permanent), under deduplication tokens of generation g+1, beside the projections that
 *    keep running. The operator watches the checkpoints reach the heads it saw when opening.
 *
 * A worker killed during the rebuild is a worker killed at any time: its batches are claimed,
 * deduplicated and checkpointed as ever. An operator killed before step 3 leaves the
 * projection stopped at `requested`; running the replay again resumes there.
 */

export type ReplayStage = 'requested' | 'open'

export interface ReplayState {
  readonly generation: number
  readonly stage: ReplayStage
}

const replayStates = defineQuery({
  name: 'latest replay of every projection',
  params: z.object({}),
  row: z.object({
    projection_name: z.string(),
    generation: z.coerce.number().int(),
    stage: z.enum(['requested', 'open']),
  }),
  sql: (w) => `SELECT projection_name, generation, stage FROM ${w.table(tables.projectionReplays)}
               ORDER BY projection_name, generation DESC, stage DESC LIMIT 1 BY projection_name`,
})

/** The latest generation (and its stage) of every projection ever replayed, by projection key. */
export async function loadReplayStates(warehouse: Warehouse): Promise<Map<string, ReplayState>> {
  const rows = await warehouse.select(replayStates, {})
  return new Map(rows.map((row) => [row.projection_name, { generation: row.generation, stage: row.stage }]))
}

const recordStage = (warehouse: Warehouse, key: string, generation: number, stage: ReplayStage) =>
  warehouse.insert(tables.projectionReplays, [{ projection_name: key, generation, stage, at: Date.now() }])

/** A worker's word that it writes nothing of the projection's earlier generations any more. */
export const acknowledgeReplay = (warehouse: Warehouse, key: string, generation: number, memberId: string) =>
  warehouse.insert(tables.projectionReplayAcks, [
    { projection_name: key, generation, member_id: memberId, at: Date.now() },
  ])

const replayAcknowledgements = defineQuery({
  name: 'workers that let go of a projection',
  params: z.object({ key: z.string(), generation: z.number().int().min(0) }),
  row: z.object({ member_id: z.string() }),
  sql: (w) => `SELECT DISTINCT member_id FROM ${w.table(tables.projectionReplayAcks)}
               WHERE projection_name = {key:String} AND generation = {generation:UInt32}`,
})

async function acknowledgedBy(warehouse: Warehouse, key: string, generation: number) {
  return new Set(
    (await warehouse.select(replayAcknowledgements, { key, generation })).map((row) => row.member_id),
  )
}

export interface ReplayOptions {
  readonly warehouse: Warehouse
  readonly checkpoints: CheckpointStore
  readonly projection: Projection
  /** The ids of the live members of the workers' consumer group. */
  members(): Promise<string[]>
  /** Per partition, the offset the next record will get. */
  heads(): Promise<number[]>
  /** Per partition, the first offset the log still holds. */
  starts(): Promise<number[]>
  readonly signal?: AbortSignal
  /** Called while waiting for workers to let go of the projection. */
  onWaiting?(waiting: { acknowledged: number; members: number }): void
  /** Called as the rebuild advances: records rebuilt so far out of the heads seen at the start. */
  onProgress?(progress: { committed: number; target: number }): void
  readonly pollMs?: number
}

export interface ReplayResult {
  readonly generation: number
  readonly committed: number
  readonly target: number
}

/** The log no longer holds offset 0 of some partition: a rebuild from the start would miss records. */
export class LogTruncatedError extends CatalogedError {
  constructor(readonly starts: readonly number[]) {
    super(
      'LOG_TRUNCATED',
      `the log no longer starts at offset 0 (partition starts: ${starts.join(', ')}): ` +
        'retention has deleted records, so a rebuild from the start would miss them',
    )
  }
}

/** Rebuilds a projection run by a group of workers from position 0 of every partition: steps 1–4 above. */
export async function replayProjection(options: ReplayOptions): Promise<ReplayResult> {
  const { warehouse, checkpoints, projection } = options
  const key = projectionKey(projection)
  const pollMs = options.pollMs ?? 250
  const pause = () => new Promise((resolve) => setTimeout(resolve, pollMs))
  const starts = await options.starts()
  if (starts.some((start) => start > 0)) throw new LogTruncatedError(starts)
  const partitions = starts.length

  // 1. A new generation, or the one a replay that stopped half-way left requested.
  const state = (await loadReplayStates(warehouse)).get(key)
  let generation: number
  if (state?.stage === 'requested') {
    generation = state.generation
  } else {
    let current = state?.generation ?? 0
    for (let partition = 0; partition < partitions; partition++) {
      current = Math.max(current, (await checkpoints.load(key, partition)).generation)
    }
    generation = current + 1
    await recordStage(warehouse, key, generation, 'requested')
  }

  // 2–3. Every live worker has let go of the projection: nothing else writes its tables now.
  for (;;) {
    options.signal?.throwIfAborted()
    const [members, acknowledged] = await Promise.all([
      options.members(),
      acknowledgedBy(warehouse, key, generation),
    ])
    const done = members.filter((member) => acknowledged.has(member)).length
    options.onWaiting?.({ acknowledged: done, members: members.length })
    if (done === members.length) break
    await pause()
  }
  await projection.reset(warehouse)
  for (let partition = 0; partition < partitions; partition++) {
    await checkpoints.save(key, { committed: 0, pending: null, generation }, partition)
  }
  const target = await options.heads()
  await recordStage(warehouse, key, generation, 'open')

  // 4. The workers rebuild it; the checkpoints say how far they are.
  const total = target.reduce((sum, head) => sum + head, 0)
  for (;;) {
    options.signal?.throwIfAborted()
    let committed = 0
    for (let partition = 0; partition < partitions; partition++) {
      const checkpoint = await checkpoints.load(key, partition)
      if (checkpoint.generation === generation)
        committed += Math.min(checkpoint.committed, target[partition] ?? 0)
    }
    options.onProgress?.({ committed, target: total })
    if (committed >= total) return { generation, committed, target: total }
    await pause()
  }
}
