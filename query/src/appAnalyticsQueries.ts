import { tables } from '@hourglass/projections/tables'
import { z } from 'zod'
import { defineQuery } from './warehouseReader.ts'

const Scope = { accountId: z.string(), sourceId: z.string() }

/**
 * Per-user statistics of one defined event from its projection: per user (subject, in order),
 * the keys and the sums over the hours in range. Hours are whole: `from` counts from the start
 * of its hour, `to` up to the hours that start before it.
 */
export const userStatsQuery = defineQuery({
  name: 'userStats',
  params: z.object({
    ...Scope,
    name: z.string(),
    from: z.number(),
    to: z.number(),
    /** Users after this one (in byte order); '' from the first. */
    after: z.string(),
    limit: z.number().int().positive(),
  }),
  row: z.object({
    subject: z.string(),
    keys: z.array(z.string()),
    amounts: z.array(z.coerce.number()),
  }),
  sql: (r) => `
    SELECT subject, groupArray(stat_key) AS keys, groupArray(amount) AS amounts
    FROM (
      SELECT subject, stat_key, sum(amount) AS amount
      FROM ${r.table(tables.userStatsHourly)}
      WHERE account_id = {accountId:String} AND source_id = {sourceId:String} AND name = {name:String}
        AND hour >= toStartOfHour(fromUnixTimestamp64Milli({from:Int64}, 'UTC'))
        AND hour < fromUnixTimestamp64Milli({to:Int64}, 'UTC')
        AND subject > {after:String}
      GROUP BY subject, stat_key
    )
    GROUP BY subject
    ORDER BY subject
    LIMIT {limit:UInt32}`,
})

/** The same over all time, from the all-time sums: no hour needs reading. */
export const userStatsTotalQuery = defineQuery({
  name: 'userStatsTotal',
  params: z.object({ ...Scope, name: z.string(), after: z.string(), limit: z.number().int().positive() }),
  row: userStatsQuery.row,
  sql: (r) => `
    SELECT subject, groupArray(stat_key) AS keys, groupArray(amount) AS amounts
    FROM (
      SELECT subject, stat_key, sum(amount) AS amount
      FROM ${r.table(tables.userStatsTotal)}
      WHERE account_id = {accountId:String} AND source_id = {sourceId:String} AND name = {name:String}
        AND subject > {after:String}
      GROUP BY subject, stat_key
    )
    GROUP BY subject
    ORDER BY subject
    LIMIT {limit:UInt32}`,
})

export const RawEventRow = z.object({
  position: z.coerce.number(),
  id: z.string(),
  name: z.string(),
  ts_ms: z.coerce.number(),
  received_ms: z.coerce.number(),
  subject: z.string(),
  session: z.string(),
  category: z.string(),
  attrs: z.string(),
})
export type RawEventRow = z.infer<typeof RawEventRow>

const EVENT_COLUMNS = `position, id, name, toUnixTimestamp64Milli(ts) AS ts_ms,
  toUnixTimestamp64Milli(received_at) AS received_ms, subject, session, category, attrs`

/** One event of a source by its id (ids are unique within a source). */
export const eventByIdQuery = defineQuery({
  name: 'eventById',
  params: z.object({ ...Scope, id: z.string() }),
  row: RawEventRow,
  sql: (r) => `
    SELECT ${EVENT_COLUMNS}
    FROM ${r.table(tables.eventsRaw)}
    WHERE account_id = {accountId:String} AND source_id = {sourceId:String} AND id = {id:String}
    LIMIT 1`,
})

/** One event of a source by its log position. */
export const eventAtPositionQuery = defineQuery({
  name: 'eventAtPosition',
  params: z.object({ ...Scope, position: z.number().int().nonnegative() }),
  row: RawEventRow,
  sql: (r) => `
    SELECT ${EVENT_COLUMNS}
    FROM ${r.table(tables.eventsRaw)}
    WHERE account_id = {accountId:String} AND source_id = {sourceId:String} AND position = {position:UInt64}
    LIMIT 1`,
})

const EventFilter = {
  ...Scope,
  /** '' for any. */
  category: z.string(),
  session: z.string(),
  name: z.string(),
  /** Events at or after this time (epoch ms). */
  since: z.number(),
}
const FILTER_SQL = `account_id = {accountId:String} AND source_id = {sourceId:String}
  AND ({category:String} = '' OR category = {category:String})
  AND ({session:String} = '' OR session = {session:String})
  AND ({name:String} = '' OR name = {name:String})
  AND ts >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')`

/** Events of a source, newest (latest appended) first, one page by offset. */
export const latestEventsQuery = defineQuery({
  name: 'latestEvents',
  params: z.object({
    ...EventFilter,
    offset: z.number().int().nonnegative(),
    limit: z.number().int().positive(),
  }),
  row: RawEventRow,
  sql: (r) => `
    SELECT ${EVENT_COLUMNS}
    FROM ${r.table(tables.eventsRaw)}
    WHERE ${FILTER_SQL}
    ORDER BY position DESC
    LIMIT {limit:UInt32} OFFSET {offset:UInt64}`,
})

/** Events of a source below a log position, newest first: one page of a walk through every match. */
export const eventsBeforeQuery = defineQuery({
  name: 'eventsBefore',
  params: z.object({
    ...EventFilter,
    before: z.number().int().nonnegative(),
    limit: z.number().int().positive(),
  }),
  row: RawEventRow,
  sql: (r) => `
    SELECT ${EVENT_COLUMNS}
    FROM ${r.table(tables.eventsRaw)}
    WHERE ${FILTER_SQL} AND position < {before:UInt64}
    ORDER BY position DESC
    LIMIT {limit:UInt32}`,
})

/**
 * The same page, each row carrying how many events the filter matches in all (one statement
 * instead of a count beside the page). A page past the last has no row to carry it.
 */
export const latestEventsCountedQuery = defineQuery({
  name: 'latestEventsCounted',
  params: latestEventsQuery.params,
  row: RawEventRow.extend({ total: z.coerce.number() }),
  sql: (r) => `
    SELECT ${EVENT_COLUMNS}, count() OVER () AS total
    FROM ${r.table(tables.eventsRaw)}
    WHERE ${FILTER_SQL}
    ORDER BY position DESC
    LIMIT {limit:UInt32} OFFSET {offset:UInt64}`,
})

export const countEventsQuery = defineQuery({
  name: 'countEvents',
  params: z.object(EventFilter),
  row: z.object({ n: z.coerce.number() }),
  sql: (r) => `SELECT count() AS n FROM ${r.table(tables.eventsRaw)} WHERE ${FILTER_SQL}`,
})
