import { z } from 'zod'

/** What SQL text may name: the warehouse's qualified tables (the database is validated at start). */
export interface TableNames {
  table(name: string): string
}

/** A named read: its SQL, a schema for its parameters and one for its rows. */
export interface NamedQuery<P extends z.ZodType, R extends z.ZodType> {
  readonly name: string
  readonly params: P
  readonly row: R
  sql(names: TableNames): string
}

export const defineQuery = <P extends z.ZodType, R extends z.ZodType>(query: NamedQuery<P, R>) => query

/**
 * A named write or schema change: its SQL and a schema for its parameters. Every value it uses
 * is a bound parameter; only qualified table names (and, for projections that rebuild rollups,
 * the SQL of their own views) stand in the text.
 */
export interface NamedStatement<P extends z.ZodType> {
  readonly name: string
  readonly params: P
  sql(names: TableNames): string
  /**
   * `mutation`: an ALTER … DELETE/UPDATE, which the statement waits for (mutations_sync = 2):
   * the next statement must see its effect. `rewrite`: an INSERT … SELECT that must write its
   * rows every time it runs (no insert deduplication). `schema`: DDL.
   */
  readonly kind: 'mutation' | 'rewrite' | 'schema'
}

export const defineStatement = <P extends z.ZodType>(statement: NamedStatement<P>) => statement

/** A statement without parameters. */
export const noParams = z.object({})

/** Empties one of Hourglass's tables (a projection's, before a rebuild). */
export const truncateTable = (table: string) =>
  defineStatement({
    name: `truncate ${table}`,
    kind: 'schema',
    params: noParams,
    sql: (w) => `TRUNCATE TABLE IF EXISTS ${w.table(table)}`,
  })

/** Empties each of the tables, in order. */
export async function truncateTables(
  warehouse: { run(statement: NamedStatement<typeof noParams>, params: object): Promise<void> },
  tables: readonly string[],
): Promise<void> {
  for (const table of tables) await warehouse.run(truncateTable(table), {})
}
