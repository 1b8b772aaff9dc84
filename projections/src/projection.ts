import type { LogRecord } from '@hourglass/log'
import type { Warehouse } from './warehouse.ts'

export interface BatchContext {
  readonly warehouse: Warehouse
  /**
   * Inserts rows under the batch's deduplication token: written again after a crash, the
   * same batch leaves the table (and the views fed from it) as if written once.
   */
  insert(table: string, rows: readonly object[]): Promise<void>
}

/** A projection is data: a name, a version, and what a batch of log records does to the warehouse. */
export interface Projection {
  readonly name: string
  readonly version: number
  /** Must be deterministic: the same records always give the same inserts, in the same order. */
  apply(records: readonly LogRecord[], context: BatchContext): Promise<void>
  /** Empties the projection's tables before a rebuild from the start of the log. */
  reset(warehouse: Warehouse): Promise<void>
}

export const projectionKey = (projection: Pick<Projection, 'name' | 'version'>) =>
  `${projection.name}@v${projection.version}`

/** A record the log holds that does not match its schema: projecting it would be guessing. */
export class InvalidLogRecordError extends Error {
  readonly code = 'INVALID_LOG_RECORD'
  readonly retryable = false
  constructor(
    readonly position: number,
    reason: string,
  ) {
    super(`log record at position ${position} does not match its schema: ${reason}`)
  }
}
