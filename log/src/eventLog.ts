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

/** A telemetry record to append. `id` is an idempotency key, unique within its stream. */
export interface NewTelemetryRecord {
  readonly stream: string
  readonly id: string
  readonly type: string
  readonly data: unknown
}

export type AppendOutcome =
  | { readonly status: 'appended'; readonly position: number }
  /** The stream already holds a record with this id: nothing was written. */
  | { readonly status: 'duplicate'; readonly position: number }

export interface NewStreamRecord {
  readonly type: string
  readonly data: unknown
}

/** `no-stream`: the stream must not exist yet; a number: the stream's last revision must be this. */
export type ExpectedRevision = 'any' | 'no-stream' | number

export type StreamAppendOutcome =
  | { readonly status: 'appended'; readonly firstPosition: number; readonly revision: number }
  | { readonly status: 'conflict'; readonly actualRevision: number | null }

export interface SubscribeOptions {
  /** Most records handed over in one batch. */
  readonly batchSize?: number
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

export class LogClosedError extends Error {
  readonly code = 'LOG_CLOSED'
  readonly retryable = true
  constructor() {
    super('the event log is closed')
  }
}
