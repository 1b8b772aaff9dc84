/**
 * The control store port: accounts, sources, tokens, tracking plans, stores and people, fleets,
 * roles and erasures, each a stream of records appended with optimistic concurrency (an expected
 * revision), and every record in one global order that followers read from a position.
 */

/** A control record as the store returns it. */
export interface ControlRecord {
  /** Where the record is in the store's global order (ascending; values may be skipped). */
  readonly position: number
  readonly stream: string
  /** The record's place in its stream, from 0. */
  readonly revision: number
  readonly id: string
  readonly type: string
  readonly data: unknown
  /** When the store made the record durable (epoch ms). */
  readonly recordedAt: number
}

export interface NewControlRecord {
  readonly type: string
  readonly data: unknown
}

/** `any`; `no-stream`: the stream must not exist yet; a number: the stream's last revision must be this. */
export type ExpectedRevision = 'any' | 'no-stream' | number

/**
 * `appended`: where the first record went, and the stream's last revision now (an empty batch
 * writes nothing: its revision is the stream's, -1 for a stream with no records). `conflict`:
 * the stream's last revision, null when it has none; nothing was written.
 */
export type StreamAppendOutcome =
  | { readonly status: 'appended'; readonly firstPosition: number; readonly revision: number }
  | { readonly status: 'conflict'; readonly actualRevision: number | null }

export interface ControlStore {
  /**
   * Appends records to one stream, atomically and durably, if the stream's revision is as
   * expected; a conflict is an outcome, not an error.
   */
  appendToStream(
    stream: string,
    records: readonly NewControlRecord[],
    expected: ExpectedRevision,
  ): Promise<StreamAppendOutcome>
  /** The records of one stream from a revision on, in revision order. */
  readStream(stream: string, fromRevision?: number): Promise<ControlRecord[]>
  /**
   * Records of every stream at positions `>= from`, ascending, at most `limit`. A record
   * appended after this answer never takes a position below its last one: a follower that
   * reads on from there misses nothing.
   */
  readAll(from: number, limit: number): Promise<ControlRecord[]>
  close(): Promise<void>
}
