import type { Projection } from '../projection.ts'
import type { CheckpointStore } from './checkpointStore.ts'
import { buildKey, type GenerationState } from './generations.ts'

/** A generation being built beside the serving one, as `hourglass status` shows it. */
export interface BuildingStatus {
  readonly generation: number
  readonly stage: 'building' | 'switching'
  /** Records the new generation holds, summed over the partitions. */
  readonly committed: number
  /** Records the log holds now: the build follows them to the head. */
  readonly head: number
  /** Records per second since the build began. */
  readonly rate: number
  /** Seconds until it has caught up at that rate; null before it has moved. */
  readonly etaSeconds: number | null
}

/** Seconds until `left` records are done at `rate` a second; null while nothing has moved. */
export const secondsLeft = (left: number, rate: number): number | null =>
  left <= 0 ? 0 : rate > 0 ? Math.ceil(left / rate) : null

/** Where the projection's next generation stands, if one is being built. */
export async function buildingStatus(
  checkpoints: CheckpointStore,
  projection: Projection,
  state: GenerationState | undefined,
  heads: readonly number[],
  now = Date.now(),
): Promise<BuildingStatus | null> {
  if (state?.stage !== 'building' && state?.stage !== 'switching') return null
  const key = buildKey(projection, state.generation)
  let committed = 0
  for (let partition = 0; partition < heads.length; partition++)
    committed += (await checkpoints.load(key, partition)).committed
  const head = heads.reduce((sum, h) => sum + h, 0)
  const seconds = Math.max(0.001, (now - (state.at ?? now)) / 1000)
  const rate = Math.round(committed / seconds)
  return {
    generation: state.generation,
    stage: state.stage,
    committed,
    head,
    rate,
    etaSeconds: secondsLeft(head - committed, rate),
  }
}
