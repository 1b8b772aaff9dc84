import type { LaneKey, PartitionLedger } from './batchLedger.ts'
import type { ErasingLane } from './erasureSteps.ts'

/** One projection at one generation, where it stands in one partition. */
export interface Lane extends ErasingLane, LaneKey {
  committed: number
}

/** A partition a worker holds: its ledger and its lanes. */
export interface PartitionState {
  readonly partition: number
  readonly ledger: PartitionLedger
  /** By projection key; a projection whose replay has stopped it has none. */
  readonly lanes: Map<string, Lane>
}

/** The furthest position any lane of the partition holds (0 with no lanes). */
export const frontier = (state: PartitionState) =>
  Math.max(0, ...[...state.lanes.values()].map((lane) => lane.committed))

/** The lanes of a partition grouped by where they stand, furthest behind first. */
export function lanesOf(state: PartitionState): [number, Lane[]][] {
  const byPosition = new Map<number, Lane[]>()
  for (const lane of state.lanes.values())
    byPosition.set(lane.committed, [...(byPosition.get(lane.committed) ?? []), lane])
  return [...byPosition].sort(([a], [b]) => a - b)
}
