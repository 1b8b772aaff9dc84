import type { NamedQuery, Warehouse } from '@hourglass/projections'
import type { z } from 'zod'

export { defineQuery, type NamedQuery } from '@hourglass/projections'

/** What the query service needs of the warehouse: to run named SELECTs against named tables. */
export type WarehouseReader = Pick<Warehouse, 'select' | 'table'>

/** Runs a named query with bound parameters and validates every row it returns. */
export const runQuery = <P extends z.ZodType, R extends z.ZodType>(
  reader: WarehouseReader,
  query: NamedQuery<P, R>,
  params: z.input<P>,
): Promise<z.output<R>[]> => reader.select(query, params)
