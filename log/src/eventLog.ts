import type { TelemetryRecord } from './telemetryLog.ts'

/**
 * The embedded log read whole, telemetry and control records interleaved in their one global
 * order: what embedded mode's projection runner reads until the one projection runtime, which
 * reads the telemetry log and the control store apart, takes its place. Only the embedded log
 * offers it (see `EmbeddedLog`).
 */

/** A record of either kind; a control record carries its revision in its stream (a telemetry record none, or null). */
export interface LogRecord extends TelemetryRecord {
  readonly revision?: number | null
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
  /** Records of both kinds at positions `>= from` and `< from + limit`, ascending. */
  read(from: number, limit: number): Promise<LogRecord[]>
  /**
   * Batches of records from `from` on, waiting for new ones at the head. The next batch is
   * read only when the consumer asks for it, so a slow consumer holds back the reader.
   */
  subscribe(from: number, options?: SubscribeOptions): AsyncIterable<LogRecord[]>
  /** The position the next record of either kind will get. */
  head(): Promise<number>
}
