import type { TelemetryRecord } from '@hourglass/log'
import type { Erasure } from './erasure.ts'
import type { StatisticsDefinition } from './trackingPlans.ts'
import type { Warehouse } from './warehouse/warehouse.ts'

/** What a projection may do while it applies a batch of telemetry records. */
export interface BatchContext {
  /**
   * Inserts rows under the batch's deduplication token: written again after a crash, the
   * same batch leaves the table (and the views fed from it) as if written once.
   */
  insert(table: string, rows: readonly object[]): Promise<void>
  /**
   * The definition an event is counted under: its source's definition of the name, if that was
   * recorded before the event (in the control store's order, as the runtime places it among the
   * partition's records). The same for every attempt at a batch and every replay of it.
   */
  definitionOf(record: TelemetryRecord, sourceId: string, name: string): StatisticsDefinition | undefined
}

/** What an erasure step may use: it runs in one partition, for the scopes (sources, stores) that partition owns. */
export interface ErasureContext {
  readonly warehouse: Warehouse
  /** The scopes whose rows this step may change: the sources whose streams the partition holds. */
  ownsScope(scope: string): boolean
  /**
   * Records how many of the person's records the erasure is about to remove (seed 001's
   * report), before it removes them: a step done again after a crash finds none left to count,
   * and its report must keep the first count.
   */
  report(events: number): Promise<void>
}

/** What a projection may do once an erasure has been applied in every partition. */
export interface ErasureReportContext {
  /** Inserts rows under the report's deduplication token. */
  insert(table: string, rows: readonly object[]): Promise<void>
  readonly warehouse: Warehouse
}

/**
 * A projection is data: a name, a version, and what a batch of telemetry records does to the
 * warehouse. It does not know how the log is partitioned, who else runs it, or how a batch is
 * made exactly-once: the runtime (runtime/projectionWorker.ts) owns all of that.
 */
export interface Projection {
  readonly name: string
  readonly version: number
  /**
   * The tables holding its rows (not the materialized views between them): a rebuild creates the
   * next generation of each beside it, and its views with them.
   */
  readonly tables: readonly string[]
  /**
   * Those of `tables` whose rows a rebuild from the log does not write again: answers already
   * given once (an erasure's report, say). A switch carries the serving generation's rows the
   * built one lacks over to it, so each answer stays, exactly once.
   */
  readonly carriedOver?: readonly string[]
  /** Must be deterministic: the same records always give the same inserts, in the same order. */
  apply(records: readonly TelemetryRecord[], context: BatchContext): Promise<void>
  /**
   * `apply` over records `a` then `b` in one call inserts, table by table, what a call over `a`
   * and then one over `b` would (a row per record, say, and nothing computed over the batch):
   * a rebuild may then apply a large batch a chunk of records at a time.
   */
  readonly appliesInChunks?: boolean
  /** Empties the projection's tables before a rebuild from the start of the log. */
  reset(warehouse: Warehouse): Promise<void>
  /**
   * Removes an erased person's rows below `erasure.before` in the scopes the context owns, and
   * recomputes what they were counted in; safe to run again after a crash at any point.
   * Projections that keep no person's rows leave it out.
   */
  erase?(erasure: Erasure, context: ErasureContext): Promise<void>
  /**
   * Called once an erasure has been applied in every partition, with the sum of what `erase`
   * reported: where a projection keeps its erasure report. Must write the same rows each time.
   */
  erasureCompleted?(erasure: Erasure, events: number, context: ErasureReportContext): Promise<void>
}

export const projectionKey = (projection: Pick<Projection, 'name' | 'version'>) =>
  `${projection.name}@v${projection.version}`

export { InvalidLogRecordError } from './invalidLogRecord.ts'
