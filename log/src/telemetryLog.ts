/**
 * The telemetry log port: every accepted event, receipt, reading and store event, appended once
 * and kept for good. The log is split into partitions (Kafka's are; the embedded log has one);
 * a stream's records all go to one partition, so a stream keeps its order. Positions ascend
 * within a partition and may skip values (the embedded log shares its sequence with the control
 * store, whose records take positions of their own).
 */

/** A telemetry record as the log returns it. */
export interface TelemetryRecord {
  /** Where the record is in its partition. */
  readonly position: number
  readonly stream: string
  /** The producer's idempotency key, unique within its stream. */
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
  /** The stream already holds a record with this id: nothing was written; `position` is the first one's. */
  | { readonly status: 'duplicate'; readonly position: number }

/** What a poll of one partition gave: its records, and where the next poll starts. */
export interface PolledRecords {
  readonly records: readonly TelemetryRecord[]
  /**
   * The position to poll from next. Past the last record; past it again when the log knows that
   * no record of this partition will ever take the positions in between (they belong to the
   * control store), so that a reader can move over them without records.
   */
  readonly next: number
}

export interface TelemetryLog {
  /**
   * Appends records durably; resolves only once they survive a crash. A record whose id its
   * stream already holds is either refused as a duplicate (naming the first one's position) or
   * appended again at a later position: readers drop re-sent ids (the projection runtime does).
   */
  appendEvents(records: readonly NewTelemetryRecord[]): Promise<AppendOutcome[]>
  /** How many partitions the log has (fixed while it runs). */
  partitionCount(): number
  /** The partition a stream's records go to. */
  partitionOf(stream: string): number
  /** Records of one partition at positions `>= from`, ascending, at most `limit`: those that exist. */
  readPartition(partition: number, from: number, limit: number): Promise<TelemetryRecord[]>
  /** Per partition, a position past every record it holds now. */
  partitionHeads(): Promise<number[]>
  /** Per partition, the first position it still holds (above 0 once retention deleted records). */
  partitionStarts(): Promise<number[]>
  /** Joins the group of readers named `group`, which share the partitions among them. */
  lease(options: LeaseOptions): PartitionLease
  /** The ids of the live members of a group of readers (none for a group nobody is in). */
  groupMembers(group: string): Promise<string[]>
  close(): Promise<void>
}

export interface LeaseOptions {
  readonly group: string
  /** How long the group waits for a silent member before it hands its partitions to others. */
  readonly sessionTimeoutMs?: number
}

/**
 * A share of the log's partitions, held by one member of a group of readers. Membership changes
 * at any time: a partition can be taken away mid-batch, and another member may still be writing
 * what it read before it noticed.
 */
export interface PartitionLease {
  start(): Promise<void>
  /** The partitions this member holds right now (a new array whenever the assignment changes). */
  assigned(): readonly number[]
  /** This member's id in the group once it has joined; null before. */
  memberId(): string | null
  /**
   * Records of a held partition at positions `>= from`, at most `limit`, waiting up to `waitMs`
   * for some; without records once the wait is over, the signal aborts or the lease closes.
   */
  poll(
    partition: number,
    from: number,
    limit: number,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<PolledRecords>
  /**
   * Every record of a held partition at positions `>= from` that exists, at most `limit`, read
   * through this member's own connection (the rest of a batch another member settled).
   */
  readPartition(partition: number, from: number, limit: number): Promise<TelemetryRecord[]>
  /** Records the group's progress (informational: the runtime's checkpoints are what counts). */
  commit(partition: number, next: number): Promise<void>
  close(): Promise<void>
}
