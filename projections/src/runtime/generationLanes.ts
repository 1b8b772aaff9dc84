import { type Projection, projectionKey } from '../projection.ts'
import { buildingProjection, buildKey } from './generations.ts'
import type { ReplayState } from './replay.ts'

/** The generation a projection is building beside its serving one, as the runtime runs it; none when not building. */
export function buildingLane(projection: Projection, replay: ReplayState | undefined) {
  if (replay?.stage !== 'building') return null
  return {
    key: buildKey(projection, replay.generation),
    projection: buildingProjection(projection, replay.generation),
  }
}

/** The keys of every lane the projection may run under: its serving generation's and the one it builds. */
export const laneKeysOf = (projection: Projection, replay: ReplayState) => [
  projectionKey(projection),
  buildKey(projection, replay.generation),
]
