import type { LogRecord } from '@hourglass/log'
import type { Erasure } from './erasure.ts'
import type { StatisticsDefinition } from './trackingPlans.ts'
import type { Warehouse } from './warehouse.ts'

export interface BatchContext {
  readonly warehouse: Warehouse
  /**
   * Inserts rows under the batch's deduplication token: written again after a crash, the
   * same batch leaves the table (and the views fed from it) as if written once.
   */
  insert(table: string, rows: readonly object[]): Promise<void>
  /**
   * The event definitions in force for this batch, where they are not among its records: a
   * partitioned log keeps control-plane records apart, and its worker passes the definitions
   * recorded before the batch's control cut. Absent (embedded mode), a projection folds the
   * definition records it meets in the log itself.
   */
  readonly definitions?: (sourceId: string, name: string) => StatisticsDefinition | undefined
  /**
   * The scopes (sources, stores) whose rows this context may change: a partitioned worker
   * owns one partition, and so the sources whose streams it holds. Absent: every scope.
   */
  readonly ownsScope?: (scope: string) => boolean
}

/** What an erasure step may use beyond a batch's context. */
export interface ErasureContext extends BatchContext {
  /**
   * Records how many of the person's records the erasure is about to remove (seed 001's
   * report), before it removes them: a step done again after a crash finds none left to count,
   * and its report must keep the first count.
   */
  report(events: number): Promise<void>
}

/** A projection is data: a name, a version, and what a batch of log records does to the warehouse. */
export interface Projection {
  readonly name: string
  readonly version: number
  /** Must be deterministic: the same records always give the same inserts, in the same order. */
  apply(records: readonly LogRecord[], context: BatchContext): Promise<void>
  /** Empties the projection's tables before a rebuild from the start of the log. */
  reset(warehouse: Warehouse): Promise<void>
  /**
   * Removes an erased person's rows (within `context.ownsScope`) and recomputes what they
   * were counted in; safe to run again after a crash at any point. Projections that keep
   * no person's rows leave it out. Embedded mode meets erasures inside `apply`; a partitioned
   * worker calls this once per partition, where the erasure falls in that partition.
   */
  erase?(erasure: Erasure, context: ErasureContext): Promise<void>
  /**
   * Called once an erasure has been applied in every partition, with the sum of what `erase`
   * reported: where a projection keeps its erasure report. Must write the same rows each time.
   */
  erasureCompleted?(erasure: Erasure, events: number, context: BatchContext): Promise<void>
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
