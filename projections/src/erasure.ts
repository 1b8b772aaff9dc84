import type { ControlRecord, TelemetryRecord } from '@hourglass/log'
import {
  ERASURE_TYPES,
  PersonErased,
  PersonEventsErased,
  STORE_EVENT,
  TELEMETRY_EVENT,
} from '@hourglass/schemas'
import { z } from 'zod'
import { defineQuery, defineStatement } from './warehouse/namedStatements.ts'
import type { Warehouse } from './warehouse/warehouse.ts'

/** An erasure read from the log: a person's rows below a position are to go. */
export interface Erasure {
  /** The erasure record's position in the control store. */
  readonly position: number
  readonly personId: string
  /** `person`: the person and every event of theirs, whenever it reached the log; `events`: their events so far. */
  readonly kind: 'person' | 'events'
  /**
   * Rows from log positions below this are erased. As read from the control store: the record's
   * own position, or the end of time for a whole person; the runtime replaces it with where the
   * erasure falls in the partition a step runs in.
   */
  readonly before: number
}

export const toErasure = (record: Pick<ControlRecord, 'position' | 'type' | 'data'>): Erasure | null => {
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
export const personOf = (record: Pick<TelemetryRecord, 'type' | 'data'>): string | null => {
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

const PersonParams = z.object({ personId: z.string(), before: z.number().int().min(0) })
const ScopedHours = PersonParams.extend({ scope: z.string(), hours: z.array(z.number().int()) })
const InScopes = PersonParams.extend({ scopes: z.array(z.string()) })

/**
 * The statements an erasure runs against one raw table and its rollup. The SQL names only the
 * spec's own tables and columns (constants of the projection); the person, positions, scopes
 * and hours are bound parameters.
 */
export function rollupErasure(spec: RollupSpec) {
  const person = `${spec.personColumn} = {personId:String} AND position < {before:UInt64}`
  return {
    /** Rows an erasure removes, per scope: what seed 001's report counts. */
    countByScope: defineQuery({
      name: `${spec.raw}: erased rows per scope`,
      params: PersonParams,
      row: z.object({ scope: z.string(), n: z.coerce.number() }),
      sql: (w) => `SELECT ${spec.scopeColumn} AS scope, count() AS n FROM ${w.table(spec.raw)}
                   WHERE ${person} GROUP BY scope`,
    }),
    touchedHours: defineQuery({
      name: `${spec.raw}: hours an erased person touched`,
      params: PersonParams,
      row: z.object({ scope: z.string(), hour_s: z.coerce.number() }),
      sql: (w) => `SELECT DISTINCT ${spec.scopeColumn} AS scope, toUnixTimestamp(toStartOfHour(ts)) AS hour_s
                   FROM ${w.table(spec.raw)} WHERE ${person}`,
    }),
    deleteRollupHours: defineStatement({
      name: `${spec.rollup}: delete hours to recompute`,
      kind: 'mutation',
      params: ScopedHours,
      sql: (w) => `ALTER TABLE ${w.table(spec.rollup)} DELETE
                   WHERE ${spec.scopeColumn} = {scope:String} AND toUnixTimestamp(hour) IN {hours:Array(UInt32)}`,
    }),
    // Rebuilt rows are inserted without deduplication: a retry must write them again.
    recomputeRollupHours: defineStatement({
      name: `${spec.rollup}: recompute hours without the person`,
      kind: 'rewrite',
      params: ScopedHours,
      sql: (w) => `INSERT INTO ${w.table(spec.rollup)} SELECT ${spec.aggregate} FROM ${w.table(spec.raw)}
                   WHERE ${spec.scopeColumn} = {scope:String} AND toUnixTimestamp(toStartOfHour(ts)) IN {hours:Array(UInt32)}
                     AND NOT (${person})
                   GROUP BY ${spec.groupBy}`,
    }),
    deleteRawRows: defineStatement({
      name: `${spec.raw}: delete an erased person's rows`,
      kind: 'mutation',
      params: InScopes,
      sql: (w) =>
        `ALTER TABLE ${w.table(spec.raw)} DELETE WHERE ${person} AND ${spec.scopeColumn} IN {scopes:Array(String)}`,
    }),
  }
}

/** How many raw rows an erasure removes (before it runs), in the scopes it may change. */
export async function countErased(
  warehouse: Warehouse,
  spec: RollupSpec,
  erasure: Erasure,
  ownsScope: (scope: string) => boolean,
): Promise<number> {
  const rows = await warehouse.select(rollupErasure(spec).countByScope, {
    personId: erasure.personId,
    before: erasure.before,
  })
  return rows.filter((row) => ownsScope(row.scope)).reduce((sum, row) => sum + row.n, 0)
}

/**
 * Removes a person's raw rows and recomputes every rollup hour they touched, in the scopes the
 * step owns (the rows of other scopes are another worker's, which inserts into their hours
 * concurrently). The order lets a crash at any step be repeated: the rollup is rebuilt from raw
 * rows that exclude the person while those rows still exist, and the raw rows go last, so a
 * retry finds the same hours again.
 */
export async function eraseFromRollup(
  warehouse: Warehouse,
  spec: RollupSpec,
  erasure: Erasure,
  ownsScope: (scope: string) => boolean,
): Promise<void> {
  const statements = rollupErasure(spec)
  const person = { personId: erasure.personId, before: erasure.before }
  const hoursByScope = new Map<string, number[]>()
  for (const { scope, hour_s } of await warehouse.select(statements.touchedHours, person)) {
    if (!ownsScope(scope)) continue
    hoursByScope.set(scope, [...(hoursByScope.get(scope) ?? []), hour_s])
  }
  for (const [scope, hours] of hoursByScope) {
    await warehouse.run(statements.deleteRollupHours, { ...person, scope, hours })
    await warehouse.run(statements.recomputeRollupHours, { ...person, scope, hours })
  }
  const scopes = [...hoursByScope.keys()]
  if (scopes.length > 0) await warehouse.run(statements.deleteRawRows, { ...person, scopes })
}
