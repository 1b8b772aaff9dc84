import type { ControlRecord, ControlStore } from '@hourglass/log'
import { type Erasure, toErasure } from '../erasure.ts'
import { createTrackingPlans, type StatisticsDefinition, toStatisticsDefinition } from '../trackingPlans.ts'

/** Where control-plane records come from. */
export type ControlRecordSource = Pick<ControlStore, 'readAll'>

/**
 * What projections need of the control store, kept in a worker's memory:
 * event definitions (for per-user statistics) and erasures, each with its control-log position.
 * It only grows, and is brought up to date by reading what was appended since the last time
 * (one small request when nothing was): no warehouse read on a batch's path.
 */
export interface ControlView {
  /** Reads the records appended since the last refresh; resolves with the new head. */
  refresh(): Promise<number>
  /** Every control record below this position has been read. */
  head(): number
  /** A source's definition of an event name, whenever it was recorded (its position says when). */
  definition(sourceId: string, name: string): StatisticsDefinition | undefined
  /**
   * Every erasure read so far, in control-log order. `before` is the erasure's own position,
   * or the end of time for a whole person: a partition's worker replaces it with its own cut.
   */
  erasures(): readonly Erasure[]
}

const PAGE = 1000

export function createControlView(source: ControlRecordSource): ControlView {
  const plans = createTrackingPlans()
  const erasures: Erasure[] = []
  let next = 0
  return {
    async refresh() {
      for (;;) {
        const page: readonly ControlRecord[] = await source.readAll(next, PAGE)
        for (const record of page) {
          if (record.position < next) continue
          const definition = toStatisticsDefinition(record)
          if (definition) plans.remember(definition)
          const erasure = toErasure(record)
          if (erasure) erasures.push(erasure)
          next = record.position + 1
        }
        if (page.length < PAGE) return next
      }
    },
    head: () => next,
    definition: (sourceId, name) => plans.find(sourceId, name),
    erasures: () => erasures,
  }
}
