import type { Logger } from 'pino'
import { z } from 'zod'
import type { Erasure } from '../erasure.ts'
import { type ErasureContext, type Projection, projectionKey } from '../projection.ts'
import { tables } from '../tables.ts'
import { defineQuery } from '../warehouse/namedStatements.ts'
import type { Warehouse } from '../warehouse/warehouse.ts'
import type { ControlOrder } from './controlOrder.ts'
import type { ControlView } from './controlView.ts'
import { EVERYTHING_CHANGES, type WarehouseChangeListener } from './warehouseChanges.ts'

const END_OF_TIME = Number.MAX_SAFE_INTEGER

/** A lane as erasure steps see it: a projection at a generation, where it stands in a partition. */
export interface ErasingLane {
  readonly projection: Projection
  readonly generation: number
  readonly committed: number
  /** Control positions of the erasures this lane has applied in the partition. */
  readonly applied: Set<number>
}

type Stage = 'counted' | 'applied' | 'completed'

const appliedSteps = defineQuery({
  name: 'erasures a lane applied in a partition',
  params: z.object({
    topic: z.string(),
    key: z.string(),
    generation: z.number().int().min(0),
    partition: z.number().int().min(0),
  }),
  row: z.object({ erasure_position: z.coerce.number().int() }),
  sql: (w) => `SELECT DISTINCT erasure_position FROM ${w.table(tables.erasureSteps)}
               WHERE topic = {topic:String} AND projection_name = {key:String} AND generation = {generation:UInt32}
                 AND partition = {partition:UInt32} AND stage = 'applied'`,
})

interface Step {
  readonly topic: string
  readonly erasure_position: number
  readonly projection_name: string
  readonly generation: number
  readonly partition: number
  readonly stage: Stage
  readonly events: number
}

/** Writes a step once: the same step written again (after a crash) is deduplicated. */
const writeStep = (warehouse: Warehouse, step: Step) =>
  warehouse.insert(tables.erasureSteps, [{ ...step, at: Date.now() }], {
    token: `erasure:${step.topic}:${step.erasure_position}:${step.projection_name}:g${step.generation}:${step.partition}:${step.stage}`,
  })

const builtSteps = defineQuery({
  name: 'erasure steps of a built generation',
  params: z.object({ key: z.string() }),
  row: z.object({
    topic: z.string(),
    erasure_position: z.coerce.number().int(),
    partition: z.coerce.number().int(),
    stage: z.enum(['counted', 'applied']),
    events: z.coerce.number().int(),
  }),
  sql: (
    w,
  ) => `SELECT DISTINCT topic, erasure_position, partition, stage, events FROM ${w.table(tables.erasureSteps)}
               WHERE projection_name = {key:String} AND stage IN ('counted', 'applied')`,
})

/**
 * At a switch, the erasures the built generation applied (and what it counted) become the serving
 * key's steps at that generation: the serving lanes resume where the built ones stand and do not
 * apply them again, and an erasure not complete yet is reported with what the build counted.
 */
export async function handOverErasureSteps(
  warehouse: Warehouse,
  from: string,
  to: { key: string; generation: number },
): Promise<void> {
  for (const step of await warehouse.select(builtSteps, { key: from }))
    await writeStep(warehouse, { ...step, projection_name: to.key, generation: to.generation })
}

const StepRow = z.object({
  erasure_position: z.coerce.number().int(),
  projection_name: z.string(),
  generation: z.coerce.number().int(),
  stage: z.enum(['counted', 'applied', 'completed']),
  partitions: z.coerce.number().int(),
  events: z.coerce.number().int(),
})

const completedSteps = defineQuery({
  name: 'erasures whose report is written',
  params: z.object({ topic: z.string() }),
  row: StepRow,
  sql: (w) => `SELECT erasure_position, projection_name, generation, stage, 0 AS partitions, 0 AS events
               FROM ${w.table(tables.erasureSteps)} WHERE topic = {topic:String} AND stage = 'completed'`,
})

const stepsSoFar = defineQuery({
  name: 'erasure steps so far',
  params: z.object({ topic: z.string(), positions: z.array(z.number().int().min(0)) }),
  row: StepRow,
  sql: (w) => `SELECT erasure_position, projection_name, generation, stage,
                      uniqExact(partition) AS partitions, sum(events) AS events
               FROM ${w.table(tables.erasureSteps)}
               WHERE topic = {topic:String} AND erasure_position IN {positions:Array(UInt64)}
                 AND stage IN ('counted', 'applied')
               GROUP BY erasure_position, projection_name, generation, stage`,
})

export interface ErasureSteps {
  /** The erasures a lane has applied in a partition (recorded steps). */
  appliedIn(key: string, generation: number, partition: number): Promise<Set<number>>
  /**
   * Applies to the lanes at `at`, in control order, every erasure whose cut they have reached and
   * not applied yet. Resolves true when it applied any.
   */
  applyDue(partition: number, lanes: readonly ErasingLane[], at: number): Promise<boolean>
  /** People erased as a whole whose cut in the partition is at or before `from`: none of their records go in. */
  erasedPeople(partition: number, from: number): Set<string>
  /**
   * Writes the report of every erasure that every erasing projection (at its serving generation)
   * has applied in every partition. Whichever worker sees that first writes it; the rows are the
   * same whoever does, and deduplicated.
   */
  complete(serving: ReadonlyMap<string, number | null>): Promise<void>
}

/**
 * The erasure steps of a projection runtime. An erasure record in the control store reaches
 * each partition at its cut (see ControlOrder); batches never straddle a cut. When a lane's
 * position in a partition reaches the cut, the worker removes the person's rows of that
 * partition's scopes (`Projection.erase`) and records the step; from then on, a whole person's
 * records beyond the cut are left out of every batch. Only the partition's worker writes its
 * scopes' rows, so recomputing a rollup hour never races with an insert into it. Once every
 * erasing projection has done so in every partition, the erasure is complete and its report is
 * written (`Projection.erasureCompleted`).
 */
export function createErasureSteps(options: {
  warehouse: Warehouse
  /** The log's name in the step rows (a Kafka topic; the embedded log has one of its own). */
  topic: string
  projections: readonly Projection[]
  view: ControlView
  order: ControlOrder
  partitionCount: number
  /** The scopes a partition owns: the sources whose streams its records belong to. */
  ownsScope(partition: number): (scope: string) => boolean
  /** Called before a lane applies an erasure: every position the lane holds below it is made durable. */
  beforeErase(partition: number): Promise<void>
  /** Hears of each erasure step: it may change any hour of the person's scopes. */
  changes?: WarehouseChangeListener | undefined
  logger: Logger
}): ErasureSteps {
  const { warehouse, topic, projections, view, order, logger } = options
  const erasing = projections.filter((projection) => projection.erase)
  const reporting = projections.filter((projection) => projection.erasureCompleted)
  /** `${key}:g${generation}:${erasure}`: erasures whose report this generation has written. */
  const completed = new Set<string>()
  let completedLoaded = false

  const recordStep = (
    key: string,
    generation: number,
    partition: number,
    erasure: Erasure,
    stage: Stage,
    events: number,
  ): Promise<void> =>
    writeStep(warehouse, {
      topic,
      erasure_position: erasure.position,
      projection_name: key,
      generation,
      partition,
      stage,
      events,
    })

  return {
    async appliedIn(key, generation, partition) {
      const rows = await warehouse.select(appliedSteps, { topic, key, generation, partition })
      return new Set(rows.map((row) => row.erasure_position))
    },

    async applyDue(partition, lanes, at) {
      let applied = false
      for (const erasure of view.erasures()) {
        const cut = order.cutOf(partition, erasure)
        if (cut > at) continue
        const placed: Erasure = { ...erasure, before: erasure.kind === 'events' ? cut : END_OF_TIME }
        for (const lane of lanes) {
          const { projection, generation } = lane
          if (!projection.erase || lane.applied.has(erasure.position)) continue
          const key = projectionKey(projection)
          if (lane.committed > cut) {
            // The lane applied it before it moved past the cut, in a runtime that kept no step.
            await recordStep(key, generation, partition, erasure, 'applied', 0)
            lane.applied.add(erasure.position)
            continue
          }
          if (!applied) await options.beforeErase(partition)
          const context: ErasureContext = {
            warehouse,
            ownsScope: options.ownsScope(partition),
            report: (events) => recordStep(key, generation, partition, erasure, 'counted', events),
          }
          options.changes?.changing(EVERYTHING_CHANGES)
          try {
            await projection.erase(placed, context)
          } finally {
            options.changes?.changed(EVERYTHING_CHANGES)
          }
          await recordStep(key, generation, partition, erasure, 'applied', 0)
          lane.applied.add(erasure.position)
          applied = true
          logger.info(
            { projection: key, partition, erasure: erasure.position, cut },
            'erasure applied in partition',
          )
        }
      }
      return applied
    },

    erasedPeople(partition, from) {
      const people = new Set<string>()
      for (const erasure of view.erasures()) {
        if (erasure.kind === 'person' && order.cutOf(partition, erasure) <= from) people.add(erasure.personId)
      }
      return people
    },

    async complete(serving) {
      if (reporting.length === 0 || erasing.length === 0) return
      if (!completedLoaded) {
        for (const row of await warehouse.select(completedSteps, { topic }))
          completed.add(`${row.projection_name}:g${row.generation}:${row.erasure_position}`)
        completedLoaded = true
      }
      const generationOf = (projection: Projection) => serving.get(projectionKey(projection)) ?? null
      const pending = view.erasures().filter((erasure) =>
        reporting.some((projection) => {
          const generation = generationOf(projection)
          return (
            generation !== null &&
            !completed.has(`${projectionKey(projection)}:g${generation}:${erasure.position}`)
          )
        }),
      )
      if (pending.length === 0) return
      const rows = await warehouse.select(stepsSoFar, {
        topic,
        positions: pending.map((erasure) => erasure.position),
      })
      const stepOf = (erasure: Erasure, projection: Projection, stage: 'counted' | 'applied') =>
        rows.find(
          (row) =>
            row.erasure_position === erasure.position &&
            row.projection_name === projectionKey(projection) &&
            row.generation === generationOf(projection) &&
            row.stage === stage,
        )
      for (const erasure of pending) {
        const everywhere = erasing.every(
          (projection) =>
            generationOf(projection) !== null &&
            stepOf(erasure, projection, 'applied')?.partitions === options.partitionCount,
        )
        if (!everywhere) continue
        for (const projection of reporting) {
          const key = projectionKey(projection)
          const generation = generationOf(projection)!
          let n = 0
          await projection.erasureCompleted!(erasure, stepOf(erasure, projection, 'counted')?.events ?? 0, {
            warehouse,
            insert: (table, rows) =>
              warehouse.insert(table, rows, {
                token: `${topic}:g${generation}:erasure${erasure.position}:${key}:report:${table}:${n++}`,
              }),
          })
          await recordStep(key, generation, 0, erasure, 'completed', 0)
          completed.add(`${key}:g${generation}:${erasure.position}`)
        }
        logger.info({ erasure: erasure.position }, 'erasure complete in every partition')
      }
    },
  }
}
