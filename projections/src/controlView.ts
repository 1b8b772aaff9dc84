import type { ControlStore, LogRecord } from '@hourglass/log'
import { z } from 'zod'
import { type Erasure, toErasure } from './erasure.ts'
import { createTrackingPlans, type StatisticsDefinition, toStatisticsDefinition } from './trackingPlans.ts'

/** Where control-plane records come from: the control store (the control service's). */
export type ControlRecordSource = Pick<ControlStore, 'readAll'>

/**
 * What the projections of a partitioned log need of the control log, kept in a worker's memory:
 * event definitions (for per-user statistics) and erasures, each with its control-log position.
 * It only grows, and is brought up to date by reading what was appended since the last time
 * (one small request when nothing was): no warehouse read on a batch's path.
 */
export interface ControlView {
  /** Reads the records appended since the last refresh; resolves with the new head. */
  refresh(): Promise<number>
  /** Every control record below this position has been read. */
  head(): number
  /** The definitions recorded below `cut`, as per-user statistics look them up. */
  definitionsBefore(cut: number): (sourceId: string, name: string) => StatisticsDefinition | undefined
  /**
   * Every erasure read so far, in control-log order. `before` is the erasure's own position,
   * or the end of time for a whole person: a partition's worker replaces it with its own cut.
   */
  erasures(): readonly Erasure[]
}

const PAGE = 1000

/** A control record as another process sends it: what the fold reads of it is checked here. */
const ControlRecord = z.object({
  position: z.number().int().min(0),
  stream: z.string(),
  revision: z.number().int().nullish(),
  id: z.string(),
  type: z.string(),
  data: z.unknown(),
  recordedAt: z.number(),
})

export function createControlView(source: ControlRecordSource): ControlView {
  const plans = createTrackingPlans()
  const erasures: Erasure[] = []
  let next = 0
  return {
    async refresh() {
      for (;;) {
        const page = z
          .array(ControlRecord)
          .parse(await source.readAll(next, PAGE))
          .map((record): LogRecord => ({ ...record, revision: record.revision ?? null }))
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
    definitionsBefore: (cut) => (sourceId, name) => {
      const definition = plans.find(sourceId, name)
      return definition && definition.position < cut ? definition : undefined
    },
    erasures: () => erasures,
  }
}
