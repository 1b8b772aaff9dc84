import type { ExpectedRevision, NewControlRecord, StreamAppendOutcome } from '../controlStore.ts'
import { isUniqueViolation, type PostgresPool, type Queryable } from './postgresPool.ts'

/**
 * How appends reach the control store's tables (the design is told at the top of
 * postgresControlStore.ts). Appends that wait in one process while an earlier one is being
 * written go together in the next transaction, so they share its commit: one wait for the head
 * row and one flush to disk for all of them, as the embedded log shares an fsync.
 *
 * The statements below are put together from constant pieces when the module loads; every value
 * goes through a parameter.
 */

/** Where appends announce the next position, as `<schema> <next position>`: a wake-up, never the data. */
export const APPENDED_CHANNEL = 'hourglass_control_appended'
const REVISION_TAKEN = 'control_records_stream_revision_key'
/** Most appends in one transaction. */
const MAX_BATCH = 200

type ClaimKind = 'no-stream' | 'any' | 'revision'
const kindOf = (expected: ExpectedRevision): ClaimKind =>
  typeof expected === 'number' ? 'revision' : expected

/**
 * Claims a stream's next revisions on its row, returning the stream's new last revision, or
 * nothing when the expected revision does not hold: $1 the stream, $2 the records' count,
 * `expected` the parameter of the revision expected.
 */
const claimStatement = (kind: ClaimKind, expected: string) =>
  ({
    'no-stream': `INSERT INTO control_streams (stream, revision) VALUES ($1, $2::bigint - 1)
      ON CONFLICT (stream) DO NOTHING RETURNING revision`,
    any: `INSERT INTO control_streams AS s (stream, revision) VALUES ($1, $2::bigint - 1)
      ON CONFLICT (stream) DO UPDATE SET revision = s.revision + $2 RETURNING revision`,
    revision: `UPDATE control_streams SET revision = revision + $2
      WHERE stream = $1 AND revision = ${expected}::bigint RETURNING revision`,
  })[kind]

/** Takes the next positions: the head row stays locked until the transaction ends. */
const takePositions = (count: string, when = 'true') => `UPDATE control_head
  SET next_position = next_position + ${count} WHERE ${when}
  RETURNING next_position - ${count} AS first, next_position AS next`

/**
 * One append alone, in one statement (so one transaction and one round trip): claims, takes
 * positions if it claimed, writes, and announces the new head to listeners ($5), who hear it
 * once it has committed; $6 is the store's schema, which listeners of others ignore. $3 and $4:
 * the records' types and data; $7 the revision expected. No row back: a conflict.
 */
const APPEND_ALONE = Object.fromEntries(
  (['no-stream', 'any', 'revision'] as const).map((kind) => [
    kind,
    `WITH claimed AS (
      ${claimStatement(kind, '$7')}
    ), head AS (
      ${takePositions('$2', 'EXISTS (SELECT FROM claimed)')}
    ), written AS (
      INSERT INTO control_records (position, stream, revision, type, data, recorded_at)
      SELECT head.first + r.ord - 1, $1, claimed.revision - $2 + r.ord, r.type, r.data::json, clock_timestamp()
      FROM head, claimed, unnest($3::text[], $4::text[]) WITH ORDINALITY AS r(type, data, ord)
    )
    SELECT claimed.revision, head.first, pg_notify($5, $6::text || ' ' || head.next::text)
    FROM claimed, head`,
  ]),
) as Record<ClaimKind, string>

/**
 * The write of appends claimed together: takes $1 positions, writes the records at them in the
 * order given ($2 to $5: their streams, revisions, types and data), and announces the new head.
 */
const WRITE_TOGETHER = `WITH head AS (
    ${takePositions('$1')}
  ), written AS (
    INSERT INTO control_records (position, stream, revision, type, data, recorded_at)
    SELECT head.first + r.ord - 1, r.stream, r.revision, r.type, r.data::json, clock_timestamp()
    FROM head, unnest($2::text[], $3::bigint[], $4::text[], $5::text[]) WITH ORDINALITY
      AS r(stream, revision, type, data, ord)
  )
  SELECT first, pg_notify($6, $7::text || ' ' || next::text) FROM head`

interface PendingAppend {
  readonly stream: string
  readonly records: readonly NewControlRecord[]
  readonly expected: ExpectedRevision
  resolve(outcome: StreamAppendOutcome): void
  reject(error: unknown): void
}

/** The stream's last revision; null when it has no record. */
export async function lastRevision(db: Queryable, stream: string): Promise<number | null> {
  const [row] = await db.query<{ revision: string }>(
    'SELECT revision FROM control_streams WHERE stream = $1',
    [stream],
  )
  return row ? Number(row.revision) : null
}

const dataOf = (record: NewControlRecord) => JSON.stringify(record.data ?? null)

async function claim(tx: Queryable, { stream, records, expected }: PendingAppend): Promise<number | null> {
  const [row] = await tx.query<{ revision: string }>(
    claimStatement(kindOf(expected), '$3'),
    typeof expected === 'number' ? [stream, records.length, expected] : [stream, records.length],
  )
  return row ? Number(row.revision) : null
}

/** One append in one statement; a revision the unique key refuses is a conflict. */
async function appendAlone(pool: PostgresPool, { stream, records, expected }: PendingAppend) {
  try {
    const [written] = await pool.query<{ revision: string; first: string }>(APPEND_ALONE[kindOf(expected)], [
      stream,
      records.length,
      records.map((record) => record.type),
      records.map(dataOf),
      APPENDED_CHANNEL,
      pool.schema,
      ...(typeof expected === 'number' ? [expected] : []),
    ])
    if (written) {
      return {
        status: 'appended',
        firstPosition: Number(written.first),
        revision: Number(written.revision),
      } satisfies StreamAppendOutcome
    }
  } catch (error) {
    if (!isUniqueViolation(error, REVISION_TAKEN)) throw error
  }
  return {
    status: 'conflict',
    actualRevision: await lastRevision(pool, stream),
  } satisfies StreamAppendOutcome
}

const byStream = (a: PendingAppend, b: PendingAppend) =>
  a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0

/**
 * Appends in one transaction, one per stream, claimed in the order of their streams' names:
 * every transaction takes stream rows in that order and the head row last, so two processes'
 * transactions never wait for each other in a circle.
 */
async function appendTogether(pool: PostgresPool, batch: readonly PendingAppend[]) {
  const claimed: { append: PendingAppend; revision: number; offset: number }[] = []
  const conflicts: PendingAppend[] = []
  let firstPosition = 0
  await pool.transaction(async (tx) => {
    const rows: { stream: string; revision: number; type: string; data: string }[] = []
    for (const append of [...batch].sort(byStream)) {
      const revision = await claim(tx, append)
      if (revision === null) {
        conflicts.push(append)
        continue
      }
      claimed.push({ append, revision, offset: rows.length })
      const firstRevision = revision - append.records.length + 1
      for (const [i, record] of append.records.entries()) {
        rows.push({
          stream: append.stream,
          revision: firstRevision + i,
          type: record.type,
          data: dataOf(record),
        })
      }
    }
    if (rows.length === 0) return
    const [written] = await tx.query<{ first: string }>(WRITE_TOGETHER, [
      rows.length,
      rows.map((row) => row.stream),
      rows.map((row) => row.revision),
      rows.map((row) => row.type),
      rows.map((row) => row.data),
      APPENDED_CHANNEL,
      pool.schema,
    ])
    firstPosition = Number(written!.first)
  })
  for (const { append, revision, offset } of claimed) {
    append.resolve({ status: 'appended', firstPosition: firstPosition + offset, revision })
  }
  for (const append of conflicts) {
    append.resolve({ status: 'conflict', actualRevision: await lastRevision(pool, append.stream) })
  }
}

/**
 * Writes appends to the control store, a transaction at a time per process, each holding every
 * append that waited for it (one per stream; another to the same stream waits for the next).
 */
export function createControlAppender(pool: PostgresPool) {
  let waiting: PendingAppend[] = []
  let writing = false

  const write = async (batch: readonly PendingAppend[]) => {
    if (batch.length > 1) {
      try {
        return await appendTogether(pool, batch)
      } catch (error) {
        if (!isUniqueViolation(error, REVISION_TAKEN)) throw error
        // A record already holds a revision one of them claimed (a stream row behind its
        // records): alone, that one is a conflict, and the others are not held back by it.
      }
    }
    for (const append of batch) {
      await appendAlone(pool, append).then(append.resolve, append.reject)
    }
  }

  const drain = async () => {
    writing = true
    while (waiting.length > 0) {
      const batch: PendingAppend[] = []
      const later: PendingAppend[] = []
      const streams = new Set<string>()
      for (const append of waiting) {
        if (batch.length < MAX_BATCH && !streams.has(append.stream)) {
          streams.add(append.stream)
          batch.push(append)
        } else later.push(append)
      }
      waiting = later
      await write(batch).catch((error: unknown) => {
        for (const append of batch) append.reject(error)
      })
    }
    writing = false
  }

  return (stream: string, records: readonly NewControlRecord[], expected: ExpectedRevision) =>
    new Promise<StreamAppendOutcome>((resolve, reject) => {
      waiting.push({ stream, records, expected, resolve, reject })
      if (!writing) void drain()
    })
}
