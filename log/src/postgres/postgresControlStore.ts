import { z } from 'zod'
import type { ControlRecord, ControlStore, ExpectedRevision, StreamAppendOutcome } from '../controlStore.ts'
import { LogClosedError } from '../logErrors.ts'
import { type Migration, preparePool } from './postgresMigrations.ts'
import {
  isUniqueViolation,
  type PostgresListener,
  type PostgresOptions,
  type PostgresPool,
  type Queryable,
} from './postgresPool.ts'

/**
 * The control store in PostgreSQL, shared by every process of a distributed deployment.
 *
 * An append is one statement, so one transaction, that does three things in this order:
 *
 * 1. Claims the stream's next revisions on the stream's row in `control_streams`: inserted if
 *    absent (`no-stream`), moved on if it holds the expected revision, either for `any`. A
 *    process that comes second waits for the first's row lock, then sees the row as the first
 *    left it: its condition no longer holds, and it claims nothing. The database decides who
 *    wins, not a lock in our process; the unique key on (stream, revision) of `control_records`
 *    says so once more, and an append it refuses is a conflict too.
 * 2. Takes the next positions from the one row of `control_head`, only if it claimed.
 * 3. Writes the records, and notifies listeners, who hear of it once it has committed.
 *
 * Why followers miss nothing: the head row stays locked from step 2 until the append commits,
 * so appends take positions one at a time, in the order they commit. While an append holds
 * positions it has not committed, no other can take any; one that fails gives them back. Every
 * committed position is therefore below every position still to be committed, and a reader
 * that saw position p can read on from p + 1 without missing a record. (A sequence would not
 * do: a value drawn by a transaction that commits late would appear behind a reader that had
 * already read past it.) Appends wait their turn only for the head, after the stream, and
 * control traffic is small, so that wait costs nothing that matters.
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

/** Where appends announce the next position, as `<schema> <next position>`: a wake-up, never the data. */
const APPENDED_CHANNEL = 'hourglass_control_appended'
const REVISION_TAKEN = 'control_records_stream_revision_key'

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

/** The stream's last revision; null when it has no record. */
async function lastRevision(db: Queryable, stream: string): Promise<number | null> {
  const [row] = await db.query<{ revision: string }>(
    'SELECT revision FROM control_streams WHERE stream = $1',
    [stream],
  )
  return row ? Number(row.revision) : null
}

/** Step 1 for each kind of expected revision: $1 the stream, $2 the records' count, $7 the revision expected. */
const CLAIM = {
  'no-stream': `INSERT INTO control_streams (stream, revision) VALUES ($1, $2::bigint - 1)
    ON CONFLICT (stream) DO NOTHING RETURNING revision`,
  any: `INSERT INTO control_streams AS s (stream, revision) VALUES ($1, $2::bigint - 1)
    ON CONFLICT (stream) DO UPDATE SET revision = s.revision + $2 RETURNING revision`,
  revision: `UPDATE control_streams SET revision = revision + $2
    WHERE stream = $1 AND revision = $7::bigint RETURNING revision`,
} as const

/**
 * The append (see the top of this file). $3 and $4: the records' types and data; $5 the channel,
 * $6 this store's schema, which listeners of other schemas ignore. No row back: a conflict.
 */
const appendStatement = (claim: string) => `WITH claimed AS (
    ${claim}
  ), head AS (
    UPDATE control_head SET next_position = next_position + $2
    WHERE EXISTS (SELECT FROM claimed)
    RETURNING next_position - $2 AS first, next_position AS next
  ), written AS (
    INSERT INTO control_records (position, stream, revision, type, data, recorded_at)
    SELECT head.first + r.ord - 1, $1, claimed.revision - $2 + r.ord, r.type, r.data::json, clock_timestamp()
    FROM head, claimed, unnest($3::text[], $4::text[]) WITH ORDINALITY AS r(type, data, ord)
  )
  SELECT claimed.revision, head.first, pg_notify($5, $6::text || ' ' || head.next::text)
  FROM claimed, head`
const APPEND = {
  'no-stream': appendStatement(CLAIM['no-stream']),
  any: appendStatement(CLAIM.any),
  revision: appendStatement(CLAIM.revision),
}

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

  const wakeups = createAppendWakeups(pool, nextPosition)

  return {
    async appendToStream(stream, records, expected) {
      open()
      if (records.length === 0) return checkOnly(stream, expected)
      try {
        const [written] = await pool.query<{ revision: string; first: string }>(
          APPEND[typeof expected === 'number' ? 'revision' : expected],
          [
            stream,
            records.length,
            records.map((record) => record.type),
            records.map((record) => JSON.stringify(record.data ?? null)),
            APPENDED_CHANNEL,
            pool.schema,
            ...(typeof expected === 'number' ? [expected] : []),
          ],
        )
        if (written) {
          return {
            status: 'appended',
            firstPosition: Number(written.first),
            revision: Number(written.revision),
          }
        }
      } catch (error) {
        if (!isUniqueViolation(error, REVISION_TAKEN)) throw error
      }
      return { status: 'conflict', actualRevision: await lastRevision(pool, stream) }
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

/** Waiters for records at a position, woken by the appends' notifications. */
function createAppendWakeups(pool: PostgresPool, nextPosition: () => Promise<number>) {
  const waiters = new Set<{ readonly from: number; wake(): void }>()
  let listening: Promise<PostgresListener> | null = null
  let heard = 0
  let stopped = false

  const wakeFrom = (next: number) => {
    heard = Math.max(heard, next)
    for (const waiter of waiters) if (waiter.from < heard) waiter.wake()
  }
  const listen = () => {
    listening ??= pool
      .listen(
        APPENDED_CHANNEL,
        (payload) => {
          const [schema, next] = payload.split(' ')
          if (schema === pool.schema && Number.isSafeInteger(Number(next))) wakeFrom(Number(next))
        },
        () => {
          // Notifications sent meanwhile are lost: every waiter reads, and the next wait listens anew.
          listening = null
          for (const waiter of waiters) waiter.wake()
        },
      )
      .catch((error: unknown) => {
        listening = null
        throw error
      })
    return listening
  }

  return {
    async wait(from: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
      if (from < heard) return true
      await listen()
      if (stopped) return true
      return new Promise<boolean>((resolve, reject) => {
        const finish = (outcome: boolean | Error) => {
          if (!waiters.delete(waiter)) return
          clearTimeout(timer)
          signal?.removeEventListener('abort', aborted)
          if (outcome instanceof Error) reject(outcome)
          else resolve(outcome)
        }
        const waiter = { from, wake: () => finish(true) }
        const aborted = () => finish(false)
        const timer = setTimeout(() => finish(false), timeoutMs)
        waiters.add(waiter)
        signal?.addEventListener('abort', aborted)
        if (signal?.aborted) return finish(false)
        // Listening before looking: a record appended in between is either seen here or heard.
        nextPosition().then(
          (next) => (next > from ? finish(true) : undefined),
          (error: Error) => finish(error),
        )
      })
    },
    async close() {
      stopped = true
      for (const waiter of waiters) waiter.wake()
      const current = listening
      listening = null
      if (current) await (await current.catch(() => null))?.close()
    },
  }
}
