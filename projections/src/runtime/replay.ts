import { CatalogedError } from '@hourglass/schemas'
import { z } from 'zod'
import { type Projection, projectionKey } from '../projection.ts'
import { tables } from '../tables.ts'
import { defineQuery } from '../warehouse/namedStatements.ts'
import type { Warehouse } from '../warehouse/warehouse.ts'
import type { CheckpointStore } from './checkpointStore.ts'
import { handOverErasureSteps } from './erasureSteps.ts'
import {
  buildKey,
  createGeneration,
  dropBuiltTables,
  type GenerationStage,
  type GenerationState,
  loadGenerationStates,
  recordGeneration,
  switchGeneration,
} from './generations.ts'
import { createQuarantineStore, handOverQuarantine } from './quarantineStore.ts'

/**
 * Replay of a projection that a group of workers runs (one embedded worker, or the members of a
 * Kafka consumer group in other processes), beside the generation that keeps serving. Its
 * protocol, through tables in the warehouse (generations.ts):
 *
 * 1. `building`: the operator creates generation g+1 of the projection's tables beside the
 *    serving ones, its checkpoints at offset 0 under a key of its own, and records the stage.
 * 2. Each worker runs the new generation as one more lane: it catches up from offset 0 over the
 *    same batches as the serving one (batch boundaries and control cuts are permanent), applies
 *    every erasure at its cut, and merges with the serving lane at the head of the log, which it
 *    then follows while ingest continues. The serving generation keeps answering every read.
 * 3. `switching`, once the new generation holds every record up to the heads seen when the build
 *    began: each worker, between two steps of its loop (so with none of its writes in flight),
 *    saves where its lanes stand, stops running the projection, and acknowledges under its
 *    consumer-group member id.
 * 4. Once every live member has acknowledged, nothing writes the projection: the operator
 *    exchanges each table with its built twin (one atomic statement per table), sets the serving
 *    checkpoints to where the built generation stands, and records `serving`. The workers resume
 *    from there; the old generation, now under the built names, is dropped.
 *
 * Every step can be done again: a process killed anywhere resumes from the recorded stage
 * (`resumeReplays` at start). `cancelReplay` abandons a build that has not begun to switch.
 */

export type ReplayStage = GenerationStage

export type ReplayState = GenerationState

/** The latest generation (and its stage) of every projection ever rebuilt, by projection key. */
export const loadReplayStates = loadGenerationStates

/**
 * A worker's word that it writes nothing of the generation any more: of the whole projection for
 * a switch (which may then begin), of the built lane for a cancelled build (whose tables may then
 * be dropped).
 */
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

export interface ReplayProgress {
  /** Records the new generation holds, summed over the partitions (up to the target). */
  readonly committed: number
  /** The log's heads when the build began, summed. */
  readonly target: number
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
  /** Called while waiting for workers to let go of the projection for the switch. */
  onWaiting?(waiting: { acknowledged: number; members: number }): void
  /** Called as the build advances. */
  onProgress?(progress: ReplayProgress): void
  readonly pollMs?: number
}

export interface ReplayResult {
  readonly generation: number
  readonly committed: number
  readonly target: number
  /** False when the build was cancelled before it switched. */
  readonly switched: boolean
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

/** The projection is switching to its new generation: too late to cancel it. */
export class ReplaySwitchingError extends CatalogedError {
  constructor(key: string) {
    super('REPLAY_SWITCHING', `${key} is switching to its new generation: it can no longer be cancelled`)
  }
}

/** The generation the projection serves at: its latest switched one, or its checkpoints'. */
async function servingGeneration(options: ReplayOptions, key: string, partitions: number) {
  let current = 0
  for (let partition = 0; partition < partitions; partition++)
    current = Math.max(current, (await options.checkpoints.load(key, partition)).generation)
  return current
}

/** Step 1: a new generation's tables, checkpoints and `building` record. */
async function beginBuild(options: ReplayOptions, key: string, partitions: number, latest?: GenerationState) {
  const { warehouse, projection } = options
  const generation = Math.max(latest?.generation ?? 0, await servingGeneration(options, key, partitions)) + 1
  const plan = await createGeneration(warehouse, projection, generation)
  const building = buildKey(projection, generation)
  for (let partition = 0; partition < partitions; partition++)
    await options.checkpoints.save(building, { committed: 0, pending: null, generation }, partition)
  const target = await options.heads()
  const state: GenerationState = { generation, stage: 'building', plan, target }
  await recordGeneration(warehouse, key, state)
  return state
}

/** Records below the target that the built generation holds, by its checkpoints. */
async function builtSoFar(options: ReplayOptions, state: GenerationState) {
  const key = buildKey(options.projection, state.generation)
  let committed = 0
  for (let partition = 0; partition < state.target.length; partition++) {
    const checkpoint = await options.checkpoints.load(key, partition)
    committed += Math.min(checkpoint.committed, state.target[partition] ?? 0)
  }
  return committed
}

const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0)

/** Step 2: waits for the workers to build the generation up to its target; false when it was cancelled. */
async function awaitBuilt(
  options: ReplayOptions,
  key: string,
  state: GenerationState,
  pause: () => Promise<unknown>,
) {
  const target = sum(state.target)
  for (;;) {
    options.signal?.throwIfAborted()
    if ((await loadGenerationStates(options.warehouse)).get(key)?.stage === 'cancelled') return false
    const committed = await builtSoFar(options, state)
    options.onProgress?.({ committed, target })
    if (committed >= target) return true
    await pause()
  }
}

/** Step 3: every live worker has let go of the projection (or, for a cancelled build, of its lane). */
async function awaitAcknowledged(
  options: ReplayOptions,
  key: string,
  generation: number,
  pause: () => Promise<unknown>,
) {
  for (;;) {
    options.signal?.throwIfAborted()
    const [members, acknowledged] = await Promise.all([
      options.members(),
      acknowledgedBy(options.warehouse, key, generation),
    ])
    const done = members.filter((member) => acknowledged.has(member)).length
    options.onWaiting?.({ acknowledged: done, members: members.length })
    if (done === members.length) return
    await pause()
  }
}

/** Step 4: the built generation serves, from where it stands; the old one is dropped. */
async function switchTo(options: ReplayOptions, key: string, state: GenerationState) {
  const { warehouse, checkpoints, projection } = options
  await switchGeneration(warehouse, state.plan, state.generation)
  const building = buildKey(projection, state.generation)
  for (let partition = 0; partition < state.target.length; partition++) {
    const built = await checkpoints.load(building, partition)
    await checkpoints.save(key, { ...built, generation: state.generation }, partition)
  }
  await handOverErasureSteps(warehouse, building, { key, generation: state.generation })
  // What the build set aside is what the serving tables lack now.
  await handOverQuarantine(createQuarantineStore(warehouse), building, {
    key,
    generation: state.generation,
  })
  await recordGeneration(warehouse, key, { ...state, stage: 'serving' })
  await dropBuiltTables(warehouse, projection, state.generation)
}

/**
 * Rebuilds a projection run by a group of workers from position 0 of every partition, beside
 * its serving generation: steps 1–4 above, resumed from whatever stage a stopped replay left.
 */
export async function replayProjection(options: ReplayOptions): Promise<ReplayResult> {
  const { warehouse, projection } = options
  const key = projectionKey(projection)
  const pollMs = options.pollMs ?? 250
  const pause = () => new Promise((resolve) => setTimeout(resolve, pollMs))
  const starts = await options.starts()
  const latest = (await loadGenerationStates(warehouse)).get(key)
  let state = latest
  if (state?.stage !== 'building' && state?.stage !== 'switching') {
    if (starts.some((start) => start > 0)) throw new LogTruncatedError(starts)
    if (state?.stage === 'serving') await dropBuiltTables(warehouse, projection, state.generation)
    state = await beginBuild(options, key, starts.length, latest)
  }
  const target = sum(state.target)
  if (state.stage === 'building') {
    if (!(await awaitBuilt(options, key, state, pause))) {
      // A worker may be writing a batch into the built tables right now: they go once every
      // live worker has dropped the lane.
      await awaitAcknowledged(options, key, state.generation, pause)
      await dropBuiltTables(warehouse, projection, state.generation)
      return { generation: state.generation, committed: 0, target, switched: false }
    }
    state = { ...state, stage: 'switching' }
    await recordGeneration(warehouse, key, state)
  }
  await awaitAcknowledged(options, key, state.generation, pause)
  // Another replay of the same projection (a second operator) may have switched it meanwhile:
  // switching again would recreate views under a running worker.
  const now = (await loadGenerationStates(warehouse)).get(key)
  if (now?.generation === state.generation && now.stage === 'serving') {
    return { generation: state.generation, committed: target, target, switched: true }
  }
  await switchTo(options, key, state)
  options.onProgress?.({ committed: target, target })
  return { generation: state.generation, committed: target, target, switched: true }
}

/** Abandons a projection's build that has not begun to switch; false when none is building. */
export async function cancelReplay(warehouse: Warehouse, projection: Projection): Promise<boolean> {
  const key = projectionKey(projection)
  const state = (await loadGenerationStates(warehouse)).get(key)
  if (state?.stage === 'switching') throw new ReplaySwitchingError(key)
  if (state?.stage !== 'building') return false
  await recordGeneration(warehouse, key, { ...state, stage: 'cancelled' })
  return true
}

/** The projections whose replay a stopped process left half-way (building or switching). */
export async function unfinishedReplays(warehouse: Warehouse, projections: readonly Projection[]) {
  const states = await loadGenerationStates(warehouse)
  return projections.filter((projection) => {
    const stage = states.get(projectionKey(projection))?.stage
    return stage === 'building' || stage === 'switching'
  })
}
