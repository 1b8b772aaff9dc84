import { setTimeout as delay } from 'node:timers/promises'
import type { Logger } from 'pino'
import { z } from 'zod'
import { type Projection, projectionKey } from './projection.ts'
import { quarantinedPerProjection } from './runtime/quarantineStore.ts'
import { erasureReportQuery } from './storeStatsProjection.ts'
import { tables } from './tables.ts'
import { defineQuery } from './warehouse/namedStatements.ts'
import type { Warehouse } from './warehouse/warehouse.ts'

/** How far one projection has applied the log. */
export interface ProjectionProgress {
  readonly projection: string
  readonly committed: number
  readonly lag: number
  /** Since when its batches fail and are retried (ISO time); null while they succeed, or where unknown. */
  readonly stalledSince: string | null
  /** Records set aside because the projection cannot apply them, not yet re-driven or dropped. */
  readonly quarantined: number
}

type WarehouseReader = Pick<Warehouse, 'select' | 'table'>

/**
 * Read-your-writes where the projection workers run elsewhere (and in embedded mode for erasure
 * reports). The projection workers run in other processes, so
 * ingest and query cannot wait on a runner as embedded mode does: they read what the workers
 * have written to the warehouse (checkpoints, erasure reports) until it shows the write, for
 * a bounded time, and then say they do not know rather than wait on.
 */

const POLL_MS = 100

/**
 * Calls `check` until it gives a value or `timeoutMs` has passed (then null), also when a
 * check itself hangs. A failing check (the warehouse or the broker away, a table not made
 * yet) counts as "not yet"; the first failure is logged.
 */
export async function pollUntil<T>(
  check: () => Promise<T | null>,
  options: { timeoutMs: number; logger: Logger; what: string },
): Promise<T | null> {
  const deadline = Date.now() + options.timeoutMs
  let logged = false
  const failed = (error: unknown) => {
    if (!logged) options.logger.warn({ err: error, waitingFor: options.what }, 'could not check; retrying')
    logged = true
    return null
  }
  for (;;) {
    const left = deadline - Date.now()
    // A check still running at the deadline is left to finish on its own; its outcome is logged.
    const cutoff = new AbortController()
    const found = await Promise.race([
      check().catch(failed),
      delay(Math.max(0, left), null, { signal: cutoff.signal }).catch(() => null),
    ])
    cutoff.abort()
    if (found !== null) return found
    const after = deadline - Date.now()
    if (after <= 0) return null
    await delay(Math.min(POLL_MS, after))
  }
}

/**
 * The erasure's report (how many events it removed) once the store-statistics projection of
 * the workers has applied it; null when it has not within `timeoutMs`.
 */
export const awaitErasureReport = async (
  warehouse: WarehouseReader,
  erasure: { readonly position: number; readonly personId: string },
  options: { timeoutMs: number; logger: Logger },
): Promise<number | null> =>
  pollUntil(async () => (await warehouse.select(erasureReportQuery, erasure))[0]?.events ?? null, {
    ...options,
    what: 'erasure report',
  })

/** Each projection's checkpoint in each partition: the workers' own record of what is in the warehouse. */
export const partitionCheckpointsQuery = defineQuery({
  name: 'partitionCheckpoints',
  params: z.object({ keys: z.array(z.string()) }),
  row: z.object({ key: z.string(), partition: z.coerce.number(), committed: z.coerce.number() }),
  sql: (r) => `
    SELECT projection_name AS key, partition, argMax(committed, progress) AS committed
    FROM ${r.table(tables.checkpoints)}
    WHERE projection_name IN {keys:Array(String)}
    GROUP BY projection_name, partition`,
})

export interface PartitionedProgress {
  /** Per projection: records applied and records not yet applied, over every partition. */
  progress(): Promise<ProjectionProgress[]>
  /**
   * Waits, at most `timeoutMs`, until the workers' projection has applied every partition up to
   * its head as of the call; false when it had not by then, or when the workers do not run it.
   */
  awaitProjected(projection: string, timeoutMs: number): Promise<boolean>
}

export function createPartitionedProgress(options: {
  warehouse: WarehouseReader
  /** The projections the workers run. */
  projections: readonly Projection[]
  /** Per partition, the offset the next record will get. */
  heads(): Promise<number[]>
  logger: Logger
}): PartitionedProgress {
  const { warehouse, projections } = options
  /** committed[key][partition] */
  const committed = async (keys: string[]) => {
    const byKey = new Map<string, number[]>()
    for (const row of await warehouse.select(partitionCheckpointsQuery, { keys })) {
      const list = byKey.get(row.key) ?? []
      list[row.partition] = row.committed
      byKey.set(row.key, list)
    }
    return byKey
  }
  const behind = (heads: readonly number[], done: readonly (number | undefined)[] = []) =>
    heads.reduce((sum, head, partition) => sum + Math.max(0, head - (done[partition] ?? 0)), 0)

  return {
    async progress() {
      const keys = projections.map(projectionKey)
      const [heads, applied, held] = await Promise.all([
        options.heads(),
        committed(keys),
        quarantinedPerProjection(warehouse),
      ])
      return projections.map((projection, i) => {
        const done = applied.get(keys[i]!) ?? []
        return {
          projection: projection.name,
          committed: done.reduce((sum: number, n) => sum + (n ?? 0), 0),
          lag: behind(heads, done),
          // The workers' failures are theirs to tell (their /readyz); the warehouse shows progress only.
          stalledSince: null,
          quarantined: held.get(keys[i]!) ?? 0,
        }
      })
    },
    async awaitProjected(name, timeoutMs) {
      const projection = projections.find((p) => p.name === name)
      if (!projection) return false
      const key = projectionKey(projection)
      let heads: number[] | null = null
      const caughtUp = await pollUntil(
        async () => {
          heads ??= await options.heads()
          return behind(heads, (await committed([key])).get(key)) === 0 ? true : null
        },
        { timeoutMs, logger: options.logger, what: `projection ${name}` },
      )
      return caughtUp === true
    },
  }
}
