import { tables } from '@hourglass/projections/tables'
import { z } from 'zod'
import { RawEventRow } from './appAnalyticsQueries.ts'
import { defineQuery } from './warehouseReader.ts'

const Scope = { accountId: z.string(), sourceId: z.string() }

export const hourlyRollupQuery = defineQuery({
  name: 'hourlyRollup',
  params: z.object({ ...Scope, from: z.number(), to: z.number(), name: z.string() }),
  row: z.object({
    hour_s: z.coerce.number(),
    name: z.string(),
    events: z.coerce.number(),
    subjects: z.coerce.number(),
    sessions: z.coerce.number(),
  }),
  sql: (r) => `
    SELECT toUnixTimestamp(hour) AS hour_s, name, sum(events) AS events, uniqExactMerge(subjects) AS subjects,
           uniqExactMerge(sessions) AS sessions
    FROM ${r.table(tables.rollupHourly)}
    WHERE account_id = {accountId:String} AND source_id = {sourceId:String}
      AND hour >= toStartOfHour(fromUnixTimestamp64Milli({from:Int64}, 'UTC'))
      AND hour < fromUnixTimestamp64Milli({to:Int64}, 'UTC')
      AND ({name:String} = '' OR name = {name:String})
    GROUP BY hour, name
    ORDER BY hour, name
    LIMIT 100000`,
})

/** Aliases never reuse a column's name: in ClickHouse an alias is visible in WHERE and would shadow it. */
export const eventsPageQuery = defineQuery({
  name: 'eventsPage',
  params: z.object({
    ...Scope,
    from: z.number(),
    to: z.number(),
    name: z.string(),
    /** '' for any; filters on the event's category and session. */
    category: z.string().default(''),
    session: z.string().default(''),
    /** '' for any; the person an event is about. */
    subject: z.string().default(''),
    afterTs: z.number(),
    afterPosition: z.number(),
    limit: z.number(),
  }),
  row: RawEventRow,
  sql: (r) => `
    SELECT position, id, name, toUnixTimestamp64Milli(ts) AS ts_ms, toUnixTimestamp64Milli(received_at) AS received_ms,
           subject, session, category, attrs
    FROM ${r.table(tables.eventsRaw)}
    WHERE account_id = {accountId:String} AND source_id = {sourceId:String}
      AND ts >= fromUnixTimestamp64Milli({from:Int64}, 'UTC') AND ts < fromUnixTimestamp64Milli({to:Int64}, 'UTC')
      AND ({name:String} = '' OR name = {name:String})
      AND ({category:String} = '' OR category = {category:String})
      AND ({session:String} = '' OR session = {session:String})
      AND ({subject:String} = '' OR subject = {subject:String})
      AND (ts, position) > (fromUnixTimestamp64Milli({afterTs:Int64}, 'UTC'), {afterPosition:Int64})
    ORDER BY ts, position
    LIMIT {limit:UInt32}`,
})
