import { defineStatement, noParams } from '../warehouse/namedStatements.ts'
import type { Warehouse } from '../warehouse/warehouse.ts'
import type { BatchInsert } from './batchLedger.ts'

/** A record set aside by a probe, with the error it fails with on its own. */
export interface FaultyRecord<R> {
  readonly record: R
  readonly error: unknown
}

/**
 * Applies `records` somewhere harmless; resolves with the error a record-level fault raised, or
 * null when they apply. Any other failure (the engine away) rejects and ends the probe.
 */
export type ProbeAttempt<R> = (records: readonly R[]) => Promise<unknown>

/**
 * Finds the records of a failing batch that fail on their own, by halving: a half that applies
 * holds none, a half that fails is split again, down to single records. k bad records among n
 * cost about 2·k·log2(n) attempts. `knownFailure` is the whole batch's error, when known (saves
 * one attempt). Records that fail only together with others are not faulty on their own: when
 * none is found the result is empty and the batch is left to fail.
 */
export async function findFaultyRecords<R>(
  records: readonly R[],
  attempt: ProbeAttempt<R>,
  knownFailure?: unknown,
): Promise<FaultyRecord<R>[]> {
  const faulty: FaultyRecord<R>[] = []
  const probe = async (slice: readonly R[], failure: unknown): Promise<void> => {
    if (failure === null || slice.length === 0) return
    if (slice.length === 1) {
      faulty.push({ record: slice[0]!, error: failure })
      return
    }
    const middle = Math.ceil(slice.length / 2)
    const left = slice.slice(0, middle)
    const right = slice.slice(middle)
    await probe(left, await attempt(left))
    await probe(right, await attempt(right))
  }
  await probe(records, knownFailure === undefined ? await attempt(records) : knownFailure)
  return faulty
}

/** The table a probe writes in place of `table`: its columns, on the Null engine, which keeps nothing. */
const probeTableOf = (table: string) => `quarantine_probe_${table}`

const createProbeTable = (table: string) =>
  defineStatement({
    name: `probe table of ${table}`,
    kind: 'schema',
    params: noParams,
    sql: (w) =>
      `CREATE TABLE IF NOT EXISTS ${w.table(probeTableOf(table))} AS ${w.table(table)} ENGINE = Null`,
  })

/**
 * Inserts in place of a batch's: each table's rows go to a Null-engine table of the same columns,
 * where ClickHouse parses and converts them as it would for the real one, and keeps none (no
 * view reads it either). A probe so writes nothing and counts nothing.
 */
export function createProbeInsert(warehouse: Warehouse): BatchInsert {
  const created = new Set<string>()
  return async (table, rows) => {
    if (rows.length === 0) return
    if (!created.has(table)) {
      await warehouse.run(createProbeTable(table), {})
      created.add(table)
    }
    await warehouse.insert(probeTableOf(table), rows)
  }
}
