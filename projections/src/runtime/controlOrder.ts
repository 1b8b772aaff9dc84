import type { TelemetryRecord } from '@hourglass/log'
import { z } from 'zod'
import type { Erasure } from '../erasure.ts'
import { tables } from '../tables.ts'
import type { StatisticsDefinition } from '../trackingPlans.ts'
import { defineQuery } from '../warehouse/namedStatements.ts'
import type { Warehouse } from '../warehouse/warehouse.ts'
import type { ControlView } from './controlView.ts'

/** The definition an event is counted under, as projections look it up (BatchContext.definitionOf). */
export type DefinitionLookup = (
  record: TelemetryRecord,
  sourceId: string,
  name: string,
) => StatisticsDefinition | undefined

/**
 * Where control records (definitions, erasures) fall among the records of a partition. A
 * projection sees telemetry only; the runtime applies an erasure to a lane when the lane reaches
 * the erasure's cut, and lets a batch count an event under a definition only if the definition
 * precedes it.
 */
export interface ControlOrder {
  /** Loads what is known of a partition's cuts. */
  load(partition: number): Promise<void>
  /** Gives each erasure not yet placed in the partition its cut there. */
  place(partition: number, erasures: readonly Erasure[]): Promise<void>
  /** The position below which an erasure covers the person's records in a partition (after `place`). */
  cutOf(partition: number, erasure: Erasure): number
  /** How a batch with this control cut (its ledger's) looks definitions up. */
  definitions(view: ControlView, batchCut: number): DefinitionLookup
}

/**
 * For a log whose telemetry and control records share one sequence of positions (the embedded
 * log): every record's place among the others is its position. An erasure falls where it was
 * appended, and a definition applies to the events appended after it.
 */
export function sharedSequenceOrder(): ControlOrder {
  return {
    load: async () => {},
    place: async () => {},
    cutOf: (_partition, erasure) => erasure.position,
    definitions: (view) => (record, sourceId, name) => {
      const definition = view.definition(sourceId, name)
      return definition && definition.position < record.position ? definition : undefined
    },
  }
}

const CutRow = z.object({ erasure_position: z.coerce.number().int(), cut: z.coerce.number().int() })

const cutsOfPartition = defineQuery({
  name: 'erasure cuts of a partition',
  params: z.object({ topic: z.string(), partition: z.number().int().min(0) }),
  row: CutRow,
  sql: (w) => `SELECT erasure_position, argMin(cut, recorded_at) AS cut FROM ${w.table(tables.erasureCuts)}
               WHERE topic = {topic:String} AND partition = {partition:UInt32}
               GROUP BY erasure_position`,
})

/**
 * For a log kept apart from the control store (Kafka), where the two orders are unrelated: the
 * place of each control record in each partition is decided once and recorded in the warehouse.
 *
 * - Definitions: a batch's claim records the control store's head, read after the batch's
 *   records were polled (its control cut). Definitions below the cut apply to the batch: every
 *   definition appended before an event reached the log is below the cut of the event's batch,
 *   and every attempt at the batch, and every replay of it, uses the same cut.
 * - Erasures: the first worker of a partition to read an erasure records the partition's head
 *   (read after the erasure was appended) as the erasure's cut in that partition: every event
 *   acknowledged before the erasure request lies below it. The first cut recorded stands.
 */
export function recordedCutsOrder(options: {
  warehouse: Warehouse
  topic: string
  /** Per partition, a position past every record it holds now. */
  heads(): Promise<number[]>
}): ControlOrder {
  const { warehouse, topic } = options
  const cuts = new Map<number, Map<number, number>>()
  const cutsIn = (partition: number) => {
    const known = cuts.get(partition) ?? new Map<number, number>()
    cuts.set(partition, known)
    return known
  }
  const load = async (partition: number) => {
    const known = cutsIn(partition)
    for (const row of await warehouse.select(cutsOfPartition, { topic, partition }))
      known.set(row.erasure_position, row.cut)
  }
  return {
    load,
    async place(partition, erasures) {
      const known = cutsIn(partition)
      const unplaced = erasures.filter((erasure) => !known.has(erasure.position))
      if (unplaced.length === 0) return
      const head = (await options.heads())[partition] ?? 0
      for (const erasure of unplaced) {
        await warehouse.insert(
          tables.erasureCuts,
          [{ topic, partition, erasure_position: erasure.position, cut: head, recorded_at: Date.now() }],
          { token: `erasure-cut:${topic}:${partition}:${erasure.position}` },
        )
      }
      await load(partition)
    },
    cutOf(partition, erasure) {
      const cut = cuts.get(partition)?.get(erasure.position)
      if (cut === undefined)
        throw new Error(`erasure ${erasure.position} has no cut in partition ${partition}`)
      return cut
    },
    definitions: (view, batchCut) => (_record, sourceId, name) => {
      const definition = view.definition(sourceId, name)
      return definition && definition.position < batchCut ? definition : undefined
    },
  }
}
