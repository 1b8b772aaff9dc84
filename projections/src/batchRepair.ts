import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { z } from 'zod'
import { tables } from './tables.ts'
import { insertDeduplicated, type Warehouse } from './warehouse.ts'

/**
 * A batch written again after a crash (or after a failed attempt) cannot lean on insert
 * deduplication alone. A plain MergeTree records an insert's deduplication token before its
 * part is in place, so a process killed between the two leaves the token without the rows, and
 * the same insert again is dropped as a duplicate: the batch would be lost. The same holds for
 * each table a materialized view writes to, each with its own token.
 *
 * So a batch in doubt is repaired instead of rewritten blindly:
 * 1. every insert looks first for its own rows, by the log positions they carry: all there,
 *    it is skipped; none, it is written under its token, and under a fresh one if that token
 *    turns out to be recorded without its rows; some (an erasure later in the batch removed
 *    some), the range is deleted and written again;
 * 2. every table a materialized view fills from a table the batch wrote is then recomputed,
 *    for the keys the batch touched, from that table's rows: the view's own query, over the
 *    source rows of those keys.
 * Step 2 repairs a view's part lost the same way, and the view's rows counted twice when step
 * 1 wrote rows whose view part had survived.
 */
export interface BatchRepair {
  /** Stands in for `BatchContext.insert` while the batch is repaired; `token` is the first attempt's. */
  insert(table: string, rows: readonly object[], token: string): Promise<void>
  /** Recomputes the views fed by the tables the batch wrote. */
  finish(): Promise<void>
}

/** The column holding the log position a row came from, where it is not `position`. */
const POSITION_COLUMNS: Readonly<Record<string, string>> = {
  [tables.receiptRuns]: 'from_position',
}

export const positionColumnOf = (table: string): string => POSITION_COLUMNS[table] ?? 'position'

/** A table whose rows carry no log position: a batch written into it cannot be checked. */
export class UnverifiableTableError extends Error {
  readonly code = 'UNVERIFIABLE_TABLE'
  readonly retryable = false
  constructor(table: string, column: string) {
    super(`rows for table ${table} carry no log position in column "${column}"; a batch cannot be repaired`)
  }
}

/** A view whose query the repair cannot restrict to a batch's rows. */
export class UnrepairableViewError extends Error {
  readonly code = 'UNREPAIRABLE_VIEW'
  readonly retryable = false
}

const CountRow = z.array(z.object({ n: z.coerce.number() }))
const ViewRow = z.array(z.object({ name: z.string(), as_select: z.string(), create_table_query: z.string() }))
const TargetRow = z.array(z.object({ sorting_key: z.string(), dependencies_table: z.array(z.string()) }))
const ColumnRow = z.array(z.object({ name: z.string() }))

interface View {
  readonly name: string
  readonly select: string
  /** Qualified name of the table it writes to. */
  readonly target: string
}

/** The materialized views of the database, with the table each writes to. */
async function materializedViews(warehouse: Warehouse): Promise<View[]> {
  const result = await warehouse.client.query({
    query: `SELECT name, as_select, create_table_query FROM system.tables
            WHERE database = {db:String} AND engine = 'MaterializedView'`,
    query_params: { db: warehouse.database },
    format: 'JSONEachRow',
  })
  return ViewRow.parse(await result.json()).map((row) => {
    const target = / TO (\S+)/.exec(row.create_table_query)?.[1]
    if (!target) throw new UnrepairableViewError(`materialized view ${row.name} names no target table`)
    return { name: row.name, select: row.as_select, target: target.replaceAll('`', '') }
  })
}

const unqualified = (warehouse: Warehouse, qualified: string) =>
  qualified.slice(warehouse.database.length + 1)

/** A view's query reads `source` where it names it in its FROM clause. */
const readsFrom = (view: View, warehouse: Warehouse, source: string) =>
  `${view.select} `.includes(` FROM ${warehouse.table(source)} `)

/**
 * Recomputes, from the source table, the rows of a view's target table for the keys that the
 * source rows at positions [from, to) fall in.
 */
async function recomputeView(
  warehouse: Warehouse,
  view: View,
  source: string,
  range: { from: number; to: number },
): Promise<void> {
  const { client } = warehouse
  const from = ` FROM ${warehouse.table(source)} `
  const select = `${view.select} `
  if (select.split(from).length !== 2) {
    throw new UnrepairableViewError(`materialized view ${view.name} does not read ${source} once, by name`)
  }
  const targetName = unqualified(warehouse, view.target)
  const [target] = TargetRow.parse(
    await (
      await client.query({
        query: `SELECT sorting_key, dependencies_table FROM system.tables
                WHERE database = {db:String} AND name = {name:String}`,
        query_params: { db: warehouse.database, name: targetName },
        format: 'JSONEachRow',
      })
    ).json(),
  )
  if (!target?.sorting_key) throw new UnrepairableViewError(`table ${view.target} has no sorting key`)
  // Rows written into the target would flow on into its own views, which this step cannot recompute.
  if (target.dependencies_table.length > 0) {
    throw new UnrepairableViewError(`table ${view.target} feeds further views: ${target.dependencies_table}`)
  }
  const columns = ColumnRow.parse(
    await (
      await client.query({
        query: `SELECT name FROM system.columns WHERE database = {db:String} AND table = {name:String}
                ORDER BY position`,
        query_params: { db: warehouse.database, name: view.name },
        format: 'JSONEachRow',
      })
    ).json(),
  )
    .map((column) => `\`${column.name}\``)
    .join(', ')
  const column = positionColumnOf(source)
  const batchRows = select.replace(
    from,
    ` FROM (SELECT * FROM ${warehouse.table(source)}
            WHERE ${column} >= {from:UInt64} AND ${column} < {to:UInt64}) AS batch_rows `,
  )
  const key = target.sorting_key
  const touched = `(${key}) IN (SELECT DISTINCT ${key} FROM (${batchRows}))`
  await client.command({
    query: `ALTER TABLE ${view.target} DELETE WHERE ${touched}`,
    query_params: range,
    clickhouse_settings: { mutations_sync: '2' },
  })
  await client.command({
    query: `INSERT INTO ${view.target} (${columns}) SELECT ${columns} FROM (${view.select}) WHERE ${touched}`,
    query_params: range,
    clickhouse_settings: { insert_deduplicate: 0 },
  })
}

/**
 * Recomputes every materialized view reading one of `sources`, for the keys of the source rows
 * at positions [from, to). Returns the views recomputed.
 */
export async function recomputeViewsOf(
  warehouse: Warehouse,
  sources: readonly string[],
  range: { from: number; to: number },
): Promise<string[]> {
  const views = await materializedViews(warehouse)
  const done: string[] = []
  for (const source of sources) {
    for (const view of views) {
      if (!readsFrom(view, warehouse, source)) continue
      await recomputeView(warehouse, view, source, range)
      done.push(view.name)
    }
  }
  return done
}

/** Repairs one batch: the log positions [from, to). */
export function createBatchRepair(
  warehouse: Warehouse,
  range: { from: number; to: number },
  logger: Logger,
): BatchRepair {
  const { client } = warehouse
  const written = new Set<string>()
  return {
    async insert(table, rows, token) {
      if (rows.length === 0) return
      const column = positionColumnOf(table)
      let low = Number.POSITIVE_INFINITY
      let high = Number.NEGATIVE_INFINITY
      for (const row of rows) {
        const position = (row as Record<string, unknown>)[column]
        if (typeof position !== 'number' || !Number.isSafeInteger(position)) {
          throw new UnverifiableTableError(table, column)
        }
        low = Math.min(low, position)
        high = Math.max(high, position)
      }
      const params = { low, high }
      const inRange = `${column} >= {low:UInt64} AND ${column} <= {high:UInt64}`
      const present = async () =>
        CountRow.parse(
          await (
            await client.query({
              query: `SELECT count() AS n FROM ${warehouse.table(table)} WHERE ${inRange}`,
              query_params: params,
              format: 'JSONEachRow',
            })
          ).json(),
        )[0]?.n ?? 0
      written.add(table)
      const found = await present()
      if (found === rows.length) return
      logger.warn(
        { table, from: low, to: high + 1, rows: rows.length, present: found },
        'a batch in doubt lacks rows: writing them again',
      )
      if (found === 0) {
        // Under the first attempt's token first: should that attempt still be running on a
        // server (its answer timed out), one of the two is dropped as the other's duplicate.
        await insertDeduplicated(warehouse, table, rows, token)
        if ((await present()) === rows.length) return
      } else {
        // Some rows went after the first attempt had finished (an erasure later in the batch):
        // nothing of it is still running, and its token is spent.
        await client.command({
          query: `ALTER TABLE ${warehouse.table(table)} DELETE WHERE ${inRange}`,
          query_params: params,
          clickhouse_settings: { mutations_sync: '2' },
        })
      }
      // The token was recorded without its rows (the process died between the two), or spent.
      await insertDeduplicated(warehouse, table, rows, `${token}:repair:${randomUUID()}`)
    },
    async finish() {
      if (written.size > 0) await recomputeViewsOf(warehouse, [...written], range)
    },
  }
}
