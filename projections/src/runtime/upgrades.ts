import { z } from 'zod'
import { type Projection, projectionKey } from '../projection.ts'
import { tables } from '../tables.ts'
import { defineQuery } from '../warehouse/namedStatements.ts'
import type { Warehouse } from '../warehouse/warehouse.ts'
import type { CheckpointStore } from './checkpointStore.ts'
import { dropBuiltTables, loadGenerationStates } from './generations.ts'

const checkpointKeys = defineQuery({
  name: 'checkpoint keys of a projection',
  params: z.object({ prefix: z.string() }),
  row: z.object({ projection_name: z.string() }),
  sql: (w) => `SELECT DISTINCT projection_name FROM ${w.table(tables.checkpoints)}
               WHERE startsWith(projection_name, {prefix:String})`,
})

/** The versions of the projection the warehouse holds checkpoints of. */
async function checkpointedVersions(warehouse: Warehouse, projection: Projection): Promise<number[]> {
  const prefix = `${projection.name}@v`
  return (await warehouse.select(checkpointKeys, { prefix }))
    .map((row) => Number(row.projection_name.slice(prefix.length)))
    .filter((version) => Number.isInteger(version))
}

/**
 * Readies projection upgrades before the workers start. A projection deployed at a version newer
 * than the one its tables serve takes over the serving version's checkpoints (the tables it
 * keeps writing are that version's), and is returned, with every projection whose replay a
 * stopped process left half-way: each needs a replay (replayProjection), which builds the new
 * version beside the serving tables and switches to it once caught up. What a cancelled build
 * left is dropped.
 */
export async function prepareRebuilds(options: {
  readonly warehouse: Warehouse
  readonly checkpoints: CheckpointStore
  readonly projections: readonly Projection[]
  readonly partitions: number
}): Promise<Projection[]> {
  const { warehouse, checkpoints } = options
  const states = await loadGenerationStates(warehouse)
  const due: Projection[] = []
  for (const projection of options.projections) {
    const key = projectionKey(projection)
    const state = states.get(key)
    const stage = state?.stage
    // A cancelled build's tables go here when no replay was running to drop them, and so does
    // the old generation of a switch stopped between recording the new one serving and dropping
    // the old (it is left under the built names of the generation that serves).
    if (state?.stage === 'cancelled' || state?.stage === 'serving')
      await dropBuiltTables(warehouse, projection, state.generation)
    if (stage === 'building' || stage === 'switching') {
      due.push(projection)
      continue
    }
    // A version that has never switched to tables of its own, deployed over an older one's.
    if (stage !== undefined) continue
    const versions = await checkpointedVersions(warehouse, projection)
    const older = versions.filter((version) => version < projection.version)
    if (older.length === 0) continue
    if (!versions.includes(projection.version)) {
      const serving = projectionKey({ name: projection.name, version: Math.max(...older) })
      for (let partition = 0; partition < options.partitions; partition++)
        await checkpoints.save(key, await checkpoints.load(serving, partition), partition)
    }
    due.push(projection)
  }
  return due
}
