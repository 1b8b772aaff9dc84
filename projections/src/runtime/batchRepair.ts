import { randomUUID } from 'node:crypto'
import { CatalogedError } from '@hourglass/schemas'
import type { Logger } from 'pino'
import { z } from 'zod'
import { tables } from '../tables.ts'
import { defineQuery, defineStatement } from '../warehouse/namedStatements.ts'
import type { Warehouse } from '../warehouse/warehouse.ts'
import { servingName } from './generations.ts'

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

export const positionColumnOf = (table: string): string => POSITION_COLUMNS[servingName(table)] ?? 'position'

/** A table whose rows carry no log position: a batch written into it cannot be checked. */
export class UnverifiableTableError extends CatalogedError {
  constructor(table: string, column: string) {
    super(
      'UNVERIFIABLE_TABLE',
      `rows for table ${table} carry no log position in column "${column}"; a batch cannot be repaired`,
    )
  }
}

/** A view whose query the repair cannot restrict to a batch's rows. */
export class UnrepairableViewError extends CatalogedError {
  constructor(message: string) {
    super('UNREPAIRABLE_VIEW', message)
  }
}

const Database = z.object({ db: z.string() })

const materializedViewsQuery = defineQuery({
  name: 'materialized views',
  params: Database,
  row: z.object({ name: z.string(), as_select: z.string(), create_table_query: z.string() }),
  sql: () => `SELECT name, as_select, create_table_query FROM system.tables
              WHERE database = {db:String} AND engine = 'MaterializedView'`,
})

const tableShapeQuery = defineQuery({
  name: 'table sorting key and dependants',
  params: Database.extend({ name: z.string() }),
  row: z.object({ sorting_key: z.string(), dependencies_table: z.array(z.string()) }),
  sql: () => `SELECT sorting_key, dependencies_table FROM system.tables
              WHERE database = {db:String} AND name = {name:String}`,
})

const columnsQuery = defineQuery({
  name: 'columns of a table',
  params: Database.extend({ name: z.string() }),
  row: z.object({ name: z.string() }),
  sql: () => `SELECT name FROM system.columns WHERE database = {db:String} AND table = {name:String}
              ORDER BY position`,
})

const Range = z.object({ from: z.number().int().min(0), to: z.number().int().min(0) })
const Span = z.object({ low: z.number().int().min(0), high: z.number().int().min(0) })

interface View {
  readonly name: string
  readonly select: string
  /** Qualified name of the table it writes to. */
  readonly target: string
}

/** The materialized views of the database, with the table each writes to. */
async function materializedViews(warehouse: Warehouse): Promise<View[]> {
  return (await warehouse.select(materializedViewsQuery, { db: warehouse.database })).map((row) => {
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
  const from = ` FROM ${warehouse.table(source)} `
  const select = `${view.select} `
  if (select.split(from).length !== 2) {
    throw new UnrepairableViewError(`materialized view ${view.name} does not read ${source} once, by name`)
  }
  const targetName = unqualified(warehouse, view.target)
  const [target] = await warehouse.select(tableShapeQuery, { db: warehouse.database, name: targetName })
  if (!target?.sorting_key) throw new UnrepairableViewError(`table ${view.target} has no sorting key`)
  // Rows written into the target would flow on into its own views, which this step cannot recompute.
  if (target.dependencies_table.length > 0) {
    throw new UnrepairableViewError(`table ${view.target} feeds further views: ${target.dependencies_table}`)
  }
  const columns = (await warehouse.select(columnsQuery, { db: warehouse.database, name: view.name }))
    .map((column) => `\`${column.name}\``)
    .join(', ')
  const column = positionColumnOf(source)
  // The view's own query (as the warehouse keeps it), over the batch's source rows only.
  const batchRows = select.replace(
    from,
    ` FROM (SELECT * FROM ${warehouse.table(source)}
            WHERE ${column} >= {from:UInt64} AND ${column} < {to:UInt64}) AS batch_rows `,
  )
  const key = target.sorting_key
  const touched = `(${key}) IN (SELECT DISTINCT ${key} FROM (${batchRows}))`
  await warehouse.run(
    defineStatement({
      name: `${view.name}: delete the keys a batch touched`,
      kind: 'mutation',
      params: Range,
      sql: () => `ALTER TABLE ${view.target} DELETE WHERE ${touched}`,
    }),
    range,
  )
  await warehouse.run(
    defineStatement({
      name: `${view.name}: recompute the keys a batch touched`,
      kind: 'rewrite',
      params: Range,
      sql: () =>
        `INSERT INTO ${view.target} (${columns}) SELECT ${columns} FROM (${view.select}) WHERE ${touched}`,
    }),
    range,
  )
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

/** Rows of a table whose log positions fall in [low, high], and their deletion. */
const rowsInSpan = (table: string, column: string) => {
  const inSpan = `${column} >= {low:UInt64} AND ${column} <= {high:UInt64}`
  return {
    count: defineQuery({
      name: `${table}: rows of a batch`,
      params: Span,
      row: z.object({ n: z.coerce.number() }),
      sql: (w) => `SELECT count() AS n FROM ${w.table(table)} WHERE ${inSpan}`,
    }),
    remove: defineStatement({
      name: `${table}: delete the rows of a batch`,
      kind: 'mutation',
      params: Span,
      sql: (w) => `ALTER TABLE ${w.table(table)} DELETE WHERE ${inSpan}`,
    }),
  }
}

/** Repairs one batch: the log positions [from, to). */
export function createBatchRepair(
  warehouse: Warehouse,
  range: { from: number; to: number },
  logger: Logger,
): BatchRepair {
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
      const span = { low, high }
      const statements = rowsInSpan(table, column)
      const present = async () => (await warehouse.select(statements.count, span))[0]?.n ?? 0
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
        await warehouse.insert(table, rows, { token })
        if ((await present()) === rows.length) return
      } else {
        // Some rows went after the first attempt had finished (an erasure later in the batch):
        // nothing of it is still running, and its token is spent.
        await warehouse.run(statements.remove, span)
      }
      // The token was recorded without its rows (the process died between the two), or spent.
      await warehouse.insert(table, rows, { token: `${token}:repair:${randomUUID()}` })
    },
    async finish() {
      if (written.size > 0) await recomputeViewsOf(warehouse, [...written], range)
    },
  }
}
