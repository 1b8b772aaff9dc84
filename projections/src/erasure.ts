import type { LogRecord } from '@hourglass/log'
import {
  ERASURE_TYPES,
  PersonErased,
  PersonEventsErased,
  STORE_EVENT,
  TELEMETRY_EVENT,
} from '@hourglass/schemas'
import { z } from 'zod'
import type { Warehouse } from './warehouse.ts'

/** An erasure read from the log: a person's rows below a position are to go. */
export interface Erasure {
  /** The erasure record's position (in distributed mode, in the control log). */
  readonly position: number
  readonly personId: string
  /** `person`: the person and every event of theirs, whenever it reached the log; `events`: their events so far. */
  readonly kind: 'person' | 'events'
  /** Rows from log positions below this are erased (in distributed mode, offsets of one partition). */
  readonly before: number
}

export const toErasure = (record: LogRecord): Erasure | null => {
  // Most records are telemetry: rule them out before parsing anything.
  if (!(ERASURE_TYPES as readonly string[]).includes(record.type)) return null
  const data = { ...(record.data as object), type: record.type }
  const whole = PersonErased.safeParse(data)
  // Erasing the person covers every event of theirs, whenever it reached the log.
  if (whole.success)
    return {
      position: record.position,
      personId: whole.data.personId,
      kind: 'person',
      before: Number.MAX_SAFE_INTEGER,
    }
  const events = PersonEventsErased.safeParse(data)
  if (events.success)
    return {
      position: record.position,
      personId: events.data.personId,
      kind: 'events',
      before: record.position,
    }
  return null
}

/** The person a telemetry record names (an event's subject, a store event's person), if any. */
export const personOf = (record: Pick<LogRecord, 'type' | 'data'>): string | null => {
  const data = record.data as { subject?: unknown; personId?: unknown } | null
  if (record.type === TELEMETRY_EVENT) return typeof data?.subject === 'string' ? data.subject : null
  if (record.type === STORE_EVENT) return typeof data?.personId === 'string' ? data.personId : null
  return null
}

/** A raw table and the rollup a materialized view feeds from it, and how to rebuild rollup rows. */
export interface RollupSpec {
  readonly raw: string
  readonly rollup: string
  /** The column naming the person in the raw table. */
  readonly personColumn: string
  /** The column that scopes both tables (a source or a store). */
  readonly scopeColumn: string
  /** Rollup rows from raw rows: a SELECT list with `hour` among its columns, grouped by `groupBy`. */
  readonly aggregate: string
  readonly groupBy: string
}

/** Which scopes an erasure step may change: all of them, or those a partition owns. */
export type ScopeFilter = ((scope: string) => boolean) | undefined

const Touched = z.array(z.object({ scope: z.string(), hour_s: z.coerce.number() }))
const ScopeCount = z.array(z.object({ scope: z.string(), n: z.coerce.number() }))

const personRows = (spec: RollupSpec) =>
  `${spec.personColumn} = {personId:String} AND position < {before:UInt64}`

/** How many raw rows an erasure removes (before it runs), in the scopes it may change. */
export async function countErased(
  warehouse: Warehouse,
  spec: RollupSpec,
  erasure: Erasure,
  ownsScope?: ScopeFilter,
): Promise<number> {
  const result = await warehouse.client.query({
    query: `SELECT ${spec.scopeColumn} AS scope, count() AS n FROM ${warehouse.table(spec.raw)}
            WHERE ${personRows(spec)} GROUP BY scope`,
    query_params: { personId: erasure.personId, before: erasure.before },
    format: 'JSONEachRow',
  })
  return ScopeCount.parse(await result.json())
    .filter((row) => !ownsScope || ownsScope(row.scope))
    .reduce((sum, row) => sum + row.n, 0)
}

/**
 * Removes a person's raw rows and recomputes every rollup hour they touched. The order lets
 * a crash at any step be repeated: the rollup is rebuilt from raw rows that exclude the
 * person while those rows still exist, and the raw rows go last, so a retry finds the same
 * hours again. Rebuilt rows are inserted without deduplication: a retry must write them again.
 *
 * With `ownsScope` (a partitioned worker), only the scopes it owns are touched: the rows of
 * other scopes are another worker's, which inserts into their hours concurrently.
 */
export async function eraseFromRollup(
  warehouse: Warehouse,
  spec: RollupSpec,
  erasure: Erasure,
  ownsScope?: ScopeFilter,
): Promise<void> {
  const { client } = warehouse
  const raw = warehouse.table(spec.raw)
  const rollup = warehouse.table(spec.rollup)
  const person = personRows(spec)
  const params = { personId: erasure.personId, before: erasure.before }
  const touched = await client.query({
    query: `SELECT DISTINCT ${spec.scopeColumn} AS scope, toUnixTimestamp(toStartOfHour(ts)) AS hour_s
            FROM ${raw} WHERE ${person}`,
    query_params: params,
    format: 'JSONEachRow',
  })
  const hoursByScope = new Map<string, number[]>()
  for (const { scope, hour_s } of Touched.parse(await touched.json())) {
    if (ownsScope && !ownsScope(scope)) continue
    hoursByScope.set(scope, [...(hoursByScope.get(scope) ?? []), hour_s])
  }
  for (const [scope, hours] of hoursByScope) {
    const scoped = { ...params, scope, hours }
    await client.command({
      query: `ALTER TABLE ${rollup} DELETE
              WHERE ${spec.scopeColumn} = {scope:String} AND toUnixTimestamp(hour) IN {hours:Array(UInt32)}`,
      query_params: scoped,
      clickhouse_settings: { mutations_sync: '2' },
    })
    await client.command({
      query: `INSERT INTO ${rollup} SELECT ${spec.aggregate} FROM ${raw}
              WHERE ${spec.scopeColumn} = {scope:String} AND toUnixTimestamp(toStartOfHour(ts)) IN {hours:Array(UInt32)}
                AND NOT (${person})
              GROUP BY ${spec.groupBy}`,
      query_params: scoped,
      clickhouse_settings: { insert_deduplicate: 0 },
    })
  }
  if (!ownsScope) {
    await client.command({
      query: `ALTER TABLE ${raw} DELETE WHERE ${person}`,
      query_params: params,
      clickhouse_settings: { mutations_sync: '2' },
    })
    return
  }
  const scopes = [...hoursByScope.keys()]
  if (scopes.length === 0) return
  await client.command({
    query: `ALTER TABLE ${raw} DELETE WHERE ${person} AND ${spec.scopeColumn} IN {scopes:Array(String)}`,
    query_params: { ...params, scopes },
    clickhouse_settings: { mutations_sync: '2' },
  })
}
