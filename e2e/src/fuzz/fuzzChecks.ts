import type { ControlStore, TelemetryLog } from '@hourglass/log'
import {
  type Erasure,
  type ProjectionWorker,
  personOf,
  projections,
  tables,
  toErasure,
  type Warehouse,
} from '@hourglass/projections'
import { defineQuery, runQuery } from '@hourglass/query'
import { DEVICE_READING, RECEIPT_RECEIVED, STORE_EVENT, TELEMETRY_EVENT } from '@hourglass/schemas'
import { z } from 'zod'

/**
 * What the fuzzer checks: each answer, then, once it has sent everything, that the projections
 * kept up with the log and that every record the log acknowledged is in the warehouse.
 */

/** Why a 4xx answer is not in the standard error shape, or null when it is. */
export function errorShapeProblem(text: string): string | null {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return 'the body is not JSON'
  }
  const error = (body as { error?: unknown } | null)?.error as Record<string, unknown> | undefined
  if (typeof error?.code !== 'string' || typeof error.message !== 'string')
    return 'no {"error": {"code", "message"}}'
  if (error.issues === undefined) return null
  const wellFormed =
    Array.isArray(error.issues) &&
    error.issues.every(
      (issue) =>
        typeof issue?.path === 'string' && typeof issue?.message === 'string' && issue.message !== '',
    )
  return wellFormed ? null : 'issues that are not [{"path", "message"}]'
}

export interface StalledProjection {
  readonly projection: string
  readonly lag: number
  readonly lastError: string | null
}

/** Projections that have not applied the whole log within `timeoutMs`, with the worker's status. */
export async function stalledProjections(
  log: Pick<TelemetryLog, 'partitionHeads'>,
  worker: ProjectionWorker,
  timeoutMs: number,
): Promise<StalledProjection[]> {
  const heads = await log.partitionHeads()
  const signal = AbortSignal.timeout(timeoutMs)
  const caughtUp = new Map<string, boolean>()
  for (const projection of projections) {
    caughtUp.set(
      projection.name,
      await worker.caughtUp(projection.name, heads, signal).then(
        () => true,
        () => false,
      ),
    )
  }
  return (await worker.status())
    .filter((status) => !caughtUp.get(status.projection) || status.lastError !== null)
    .map((status) => ({ projection: status.projection, lag: status.lag, lastError: status.lastError }))
}

/** The raw table of each record type that a projection writes one or more rows per record to. */
const RAW_TABLES: Readonly<Record<string, string>> = {
  [TELEMETRY_EVENT]: tables.eventsRaw,
  [STORE_EVENT]: tables.storeEvents,
  [RECEIPT_RECEIVED]: tables.receiptsRaw,
  [DEVICE_READING]: tables.deviceReadingsRaw,
}

const positionsIn = (table: string) =>
  defineQuery({
    name: `positions in ${table}`,
    params: z.object({}),
    row: z.object({ position: z.coerce.number() }),
    sql: (reader) => `SELECT DISTINCT position FROM ${reader.table(table)}`,
  })

export interface ProjectedTable {
  readonly table: string
  /** Records the log holds for this table, less those an erasure removed. */
  readonly expected: number
  /** Log records with no row in the table. */
  readonly missing: readonly number[]
  /** Rows from positions that should have none (not such a record, or erased). */
  readonly unexpected: readonly number[]
}

const listIn = <T>(map: Map<string, T[]>, key: string): T[] => {
  const list = map.get(key) ?? []
  map.set(key, list)
  return list
}

/** Whether an erasure in the log removes the person's record at `position`. */
const erases = (erasure: Erasure, position: number) => position < erasure.before

/**
 * Every record the log acknowledged, compared with the warehouse's raw tables by log position:
 * each is there once, unless an erasure of its person removed it or a projection quarantined it
 * (`quarantined`: log positions).
 */
export async function compareLogWithWarehouse(
  log: { telemetry: TelemetryLog; control: ControlStore },
  warehouse: Warehouse,
  quarantined: ReadonlySet<number> = new Set(),
): Promise<ProjectedTable[]> {
  const expected = new Map<string, { position: number; person: string | null }[]>()
  const erasures = new Map<string, Erasure[]>()
  for (let from = 0; ; ) {
    const records = await log.control.readAll(from, 5000)
    if (records.length === 0) break
    for (const record of records) {
      const erasure = toErasure(record)
      if (erasure) listIn(erasures, erasure.personId).push(erasure)
    }
    from = records.at(-1)!.position + 1
  }
  for (let from = 0; ; ) {
    const records = await log.telemetry.readPartition(0, from, 5000)
    if (records.length === 0) break
    for (const record of records) {
      const table = RAW_TABLES[record.type]
      if (table) listIn(expected, table).push({ position: record.position, person: personOf(record) })
    }
    from = records.at(-1)!.position + 1
  }
  const compared: ProjectedTable[] = []
  for (const table of Object.values(RAW_TABLES)) {
    const kept = (expected.get(table) ?? []).filter(
      ({ position, person }) => !(person && erasures.get(person)?.some((e) => erases(e, position))),
    )
    const want = new Set(kept.map((record) => record.position))
    const have = new Set((await runQuery(warehouse, positionsIn(table), {})).map((row) => row.position))
    compared.push({
      table,
      expected: want.size,
      missing: [...want].filter((position) => !have.has(position) && !quarantined.has(position)),
      unexpected: [...have].filter((position) => !want.has(position)),
    })
  }
  return compared
}
