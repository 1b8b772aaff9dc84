import type { ClickHouseClient } from '@clickhouse/client'
import { z } from 'zod'

/** What the query service needs of the warehouse: to run SELECTs against named tables. */
export interface WarehouseReader {
  /** The warehouse's connection for reads (see `Warehouse.readClient`). */
  readonly readClient: Pick<ClickHouseClient, 'query'>
  table(name: string): string
}

/** A named read: its SQL, a schema for its parameters and one for its rows. */
export interface NamedQuery<P extends z.ZodType, R extends z.ZodType> {
  readonly name: string
  readonly params: P
  readonly row: R
  sql(reader: WarehouseReader): string
}

export const defineQuery = <P extends z.ZodType, R extends z.ZodType>(query: NamedQuery<P, R>) => query

/** Runs a named query with bound parameters and validates every row it returns. */
export async function runQuery<P extends z.ZodType, R extends z.ZodType>(
  reader: WarehouseReader,
  query: NamedQuery<P, R>,
  params: z.input<P>,
): Promise<z.output<R>[]> {
  const result = await reader.readClient.query({
    query: query.sql(reader),
    query_params: query.params.parse(params) as Record<string, unknown>,
    format: 'JSONEachRow',
  })
  return z.array(query.row).parse(await result.json())
}
