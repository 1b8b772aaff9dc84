import type { ExpectedRevision, StreamAppendOutcome } from './controlStore.ts'
import type { AppendOutcome, NewTelemetryRecord } from './telemetryLog.ts'

export type { AppendOutcome, ExpectedRevision, NewTelemetryRecord, StreamAppendOutcome }

/**
 * The event log port. Every accepted event and every control-plane change is a record
 * in one totally ordered, append-only log. Positions start at 0 and have no gaps.
 */

/** A record as the log returns it. `revision` is set for control-plane stream records only. */
export interface LogRecord {
  readonly position: number
  readonly stream: string
  readonly revision: number | null
  readonly id: string
  readonly type: string
  readonly data: unknown
  /** When the log made the record durable (epoch ms). */
  readonly recordedAt: number
}

export interface NewStreamRecord {
  readonly type: string
  readonly data: unknown
}

export interface SubscribeOptions {
  /** Most records handed over in one batch. */
  readonly batchSize?: number
  /**
   * A batch smaller than `batchSize` is held until its first record is this old (milliseconds
   * since it was recorded), gathering what arrives meanwhile: fewer, larger batches under load,
   * at most this much later. 0 (the default) hands over what there is at once.
   */
  readonly lingerMs?: number
  readonly signal?: AbortSignal
}

export interface EventLog {
  /**
   * Appends telemetry records durably; resolves only once they survive a crash.
   * A record whose id its stream already holds is not written again.
   */
  appendEvents(records: readonly NewTelemetryRecord[]): Promise<AppendOutcome[]>
  /** Appends to one control-plane stream if its revision is as expected, atomically. */
  appendToStream(
    stream: string,
    records: readonly NewStreamRecord[],
    expected: ExpectedRevision,
  ): Promise<StreamAppendOutcome>
  /** Records at positions `>= from`, ascending, at most `limit`. */
  read(from: number, limit: number): Promise<LogRecord[]>
  /** The records of one stream from a revision on, in revision order. */
  readStream(stream: string, fromRevision?: number): Promise<LogRecord[]>
  /** Control-plane (stream) records at positions `>= from`, ascending, at most `limit`. */
  readControl(from: number, limit: number): Promise<LogRecord[]>
  /**
   * Batches of records from `from` on, waiting for new ones at the head. The next batch is
   * read only when the consumer asks for it, so a slow consumer holds back the reader.
   */
  subscribe(from: number, options?: SubscribeOptions): AsyncIterable<LogRecord[]>
  /** The position the next record will get (the number of records ever appended). */
  head(): Promise<number>
  close(): Promise<void>
}

export { LogClosedError, LogUnavailableError } from './logErrors.ts'

/** Asked of an adapter something it does not do (Kafka keeps no control-plane streams). */
export class LogOperationUnsupportedError extends Error {
  readonly code = 'LOG_OPERATION_UNSUPPORTED'
  readonly retryable = false
  constructor(operation: string, reason: string) {
    super(`${operation} is not supported by this event log: ${reason}`)
  }
}

/**
 * A log split into partitions, as Kafka is. Order holds within a partition; a stream's records
 * are all in one partition, so a stream keeps its order. Positions are offsets in a partition.
 */
export interface PartitionedLogReader {
  readonly topic: string
  partitionCount(): Promise<number>
  /** Records of one partition at offsets `>= from`, ascending, at most `limit`: all that exist. */
  readPartition(partition: number, from: number, limit: number): Promise<LogRecord[]>
  /** Per partition, the offset the next record will get. */
  partitionHeads(): Promise<number[]>
}

/**
 * A share of a partitioned log's partitions, handed out among the members of a group (a Kafka
 * consumer group). Membership changes at any time: a partition can be taken away mid-batch.
 */
export interface PartitionLease extends PartitionedLogReader {
  start(): Promise<void>
  /** The partitions this member holds right now. */
  assigned(): readonly number[]
  /** This member's id in the group (Kafka's member id) once it has joined; null before. */
  memberId(): string | null
  /** Records at offsets `>= from` that have arrived, at most `limit`, waiting up to `waitMs` for some. */
  poll(
    partition: number,
    from: number,
    limit: number,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<LogRecord[]>
  /** Records the group's progress (informational: the warehouse checkpoint is what counts). */
  commit(partition: number, next: number): Promise<void>
  close(): Promise<void>
}
