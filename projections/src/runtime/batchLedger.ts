import type { TelemetryRecord } from '@hourglass/log'
import type { EncodedRows } from '../warehouse/warehouse.ts'

/** One projection at one generation: what a lane of the runtime writes. */
export interface LaneKey {
  /** `name@vN` (projectionKey). */
  readonly key: string
  readonly generation: number
}

/** A batch: every record of one partition at positions [from, to). */
export interface BatchRange {
  readonly from: number
  readonly to: number
}

/** Inserts one table's rows of a batch; `n` counts the inserts of the batch, from 0. */
export type BatchInsert = (table: string, rows: readonly object[]) => Promise<void>

/** Inserts rows of a batch already encoded (see `Warehouse.encoder`), counted with the batch's other inserts. */
export type EncodedBatchInsert = (table: string, rows: EncodedRows) => Promise<void>

/** A batch as the ledger settled it: its end, and the control store's head when it was first settled. */
export interface SettledBatch extends BatchRange {
  readonly cut: number
}

/** Where a lane resumes in a partition. */
export interface LaneStart {
  readonly committed: number
  readonly generation: number
}

/**
 * How batches are made exactly-once in effect, for one partition. The runtime's loop is the same
 * whatever the log; what differs is what a log lets the runtime rely on:
 *
 * - a log with a single writer per partition (the embedded log: one process, one worker) can mark
 *   a batch as pending before writing it and repair exactly that range after a crash
 *   (createSingleWriterLedger);
 * - a log read by a group whose members come and go (Kafka) settles every batch's boundaries in
 *   the warehouse, first claim wins, so that a batch is the same whoever writes it, and drops
 *   re-sent ids by what earlier batches counted (createClaimLedger).
 */
export interface PartitionLedger {
  /** Where a lane resumes: its checkpoint. A batch left in doubt by a crash is the next one again. */
  resume(key: string): Promise<LaneStart>
  /**
   * The batch that starts at `from` for the lanes `keys`: as settled the first time it was
   * written (by anyone), else `proposedTo` with `controlHead` as its cut.
   */
  settle(
    from: number,
    proposedTo: number,
    controlHead: number,
    keys: readonly string[],
  ): Promise<SettledBatch>
  /**
   * The batch's records to project: a record whose (stream, id) an earlier position holds is
   * left out. `leading`: the batch moves the partition's frontier (no lane has written it yet).
   */
  fresh(batch: BatchRange, records: readonly TelemetryRecord[], leading: boolean): Promise<TelemetryRecord[]>
  /**
   * `fresh` keeps every record (the log refuses a re-sent id itself): a batch's records may then
   * be taken a chunk at a time without asking it.
   */
  readonly keepsEveryRecord: boolean
  /**
   * Writes one lane's share of a batch, exactly once in effect. `apply` makes the inserts, of
   * rows or of rows already encoded (`encoded` is null when this write must see every row: a
   * batch in doubt is repaired row by row); `retry` says an earlier attempt at this batch failed
   * and may have written part of it.
   */
  write(
    lane: LaneKey,
    batch: BatchRange,
    apply: (insert: BatchInsert, encoded: EncodedBatchInsert | null) => Promise<void>,
    retry: boolean,
  ): Promise<void>
  /**
   * The lane holds every record below `to` now. `caughtUp`: the partition has nothing more for
   * now, the moment to make the position durable if the ledger defers that.
   */
  advance(lane: LaneKey, to: number, caughtUp: boolean): Promise<void>
  /** Makes every position `advance` deferred durable (on close, or before giving a partition up). */
  flush(): Promise<void>
}

export interface BatchLedger {
  /** The ledger of one partition, loaded from where it keeps its state. */
  open(partition: number): Promise<PartitionLedger>
}
