import { z } from 'zod'
import type { ControlRecord, ControlStore, ExpectedRevision, StreamAppendOutcome } from '../controlStore.ts'
import { LogClosedError } from '../logErrors.ts'
import { createAppendWakeups } from './appendWakeups.ts'
import { createControlAppender, lastRevision } from './postgresControlAppends.ts'
import { type Migration, preparePool } from './postgresMigrations.ts'
import type { PostgresOptions, PostgresPool } from './postgresPool.ts'

/**
 * The control store in PostgreSQL, shared by every process of a distributed deployment.
 *
 * An append is a transaction that does three things in this order:
 *
 * 1. Claims the stream's next revisions on the stream's row in `control_streams`: inserted if
 *    absent (`no-stream`), moved on if it holds the expected revision, either for `any`. A
 *    process that comes second waits for the first's row lock, then sees the row as the first
 *    left it: its condition no longer holds, and it claims nothing. The database decides who
 *    wins, not a lock in our process; the unique key on (stream, revision) of `control_records`
 *    says so once more, and an append it refuses is a conflict too.
 * 2. Takes the next positions from the one row of `control_head`, if it claimed anything.
 * 3. Writes the records, and notifies listeners, who hear of it once it has committed.
 *
 * Why followers miss nothing: the head row stays locked from step 2 until the append commits,
 * so appends take positions one transaction at a time, in the order they commit. While a
 * transaction holds positions it has not committed, no other can take any; one that fails
 * gives them back. Every committed position is therefore below every position still to be
 * committed, and a reader that saw position p can read on from p + 1 without missing a record.
 * (A sequence would not do: a value drawn by a transaction that commits late would appear
 * behind a reader that had already read past it.) Appends waiting in one process share a
 * transaction (postgresControlAppends.ts), so the head's one-at-a-time costs a commit per batch.
 */

export const CONTROL_STORE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'control streams, records and their global order',
    statements: [
      `CREATE TABLE control_streams (
        stream text PRIMARY KEY,
        revision bigint NOT NULL
      )`,
      `CREATE TABLE control_head (
        single boolean PRIMARY KEY DEFAULT true CHECK (single),
        next_position bigint NOT NULL
      )`,
      'INSERT INTO control_head (next_position) VALUES (0)',
      // json, not jsonb: a record's data reads back exactly as it was written.
      `CREATE TABLE control_records (
        position bigint PRIMARY KEY,
        stream text NOT NULL,
        revision bigint NOT NULL,
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        type text NOT NULL,
        data json NOT NULL,
        recorded_at timestamptz NOT NULL,
        CONSTRAINT control_records_stream_revision_key UNIQUE (stream, revision)
      )`,
    ],
  },
]

export interface PostgresControlStore extends ControlStore {
  /**
   * Resolves `true` as soon as records at `from` or later exist, or may (the wake-up connection
   * broke: read to see), and `false` once `timeoutMs` (default 30 s) has passed without, or
   * when `signal` aborts. Followers read with `readAll` after it either way: it only saves
   * them from polling an idle store.
   */
  waitForAppend(from: number, options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<boolean>
}

const StoredRecord = z.object({
  position: z.coerce.number().int().min(0),
  stream: z.string(),
  revision: z.coerce.number().int().min(0),
  id: z.string(),
  type: z.string(),
  data: z.unknown(),
  recorded_at: z.coerce.number(),
})

const toControlRecord = (row: unknown): ControlRecord => {
  const stored = StoredRecord.parse(row)
  return {
    position: stored.position,
    stream: stored.stream,
    revision: stored.revision,
    id: stored.id,
    type: stored.type,
    data: stored.data,
    recordedAt: stored.recorded_at,
  }
}

const SELECT_RECORDS = `SELECT position, stream, revision, id, type, data,
  (extract(epoch FROM recorded_at) * 1000)::bigint AS recorded_at
  FROM control_records`

const matches = (expected: ExpectedRevision, current: number | null) =>
  expected === 'any' || (expected === 'no-stream' ? current === null : current === expected)

/**
 * A control store over PostgreSQL: give it a pool to share (it stays open when the store closes)
 * or the options of one of its own. Brings its tables up to date before it answers.
 */
export async function createPostgresControlStore(
  postgres: PostgresPool | PostgresOptions,
): Promise<PostgresControlStore> {
  const { pool, close } = await preparePool(postgres, 'control-store', CONTROL_STORE_MIGRATIONS)
  let closed = false
  const open = () => {
    if (closed) throw new LogClosedError()
  }

  const nextPosition = async () => {
    const [head] = await pool.query<{ next_position: string }>('SELECT next_position FROM control_head')
    return Number(head!.next_position)
  }

  /** An empty batch writes nothing, but its expected revision is checked all the same. */
  const checkOnly = async (stream: string, expected: ExpectedRevision): Promise<StreamAppendOutcome> => {
    const [current, next] = await Promise.all([lastRevision(pool, stream), nextPosition()])
    return matches(expected, current)
      ? { status: 'appended', firstPosition: next, revision: current ?? -1 }
      : { status: 'conflict', actualRevision: current }
  }

  const append = createControlAppender(pool)
  const wakeups = createAppendWakeups(pool, nextPosition)

  return {
    async appendToStream(stream, records, expected) {
      open()
      return records.length === 0 ? checkOnly(stream, expected) : append(stream, records, expected)
    },
    async readStream(stream, fromRevision = 0) {
      open()
      const rows = await pool.query(
        `${SELECT_RECORDS} WHERE stream = $1 AND revision >= $2 ORDER BY revision`,
        [stream, fromRevision],
      )
      return rows.map(toControlRecord)
    },
    async readAll(from, limit) {
      open()
      if (limit <= 0) return []
      const rows = await pool.query(`${SELECT_RECORDS} WHERE position >= $1 ORDER BY position LIMIT $2`, [
        from,
        limit,
      ])
      return rows.map(toControlRecord)
    },
    async waitForAppend(from, options = {}) {
      open()
      return wakeups.wait(from, options.timeoutMs ?? 30_000, options.signal)
    },
    async close() {
      if (closed) return
      closed = true
      await wakeups.close()
      await close()
    },
  }
}
