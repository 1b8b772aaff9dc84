import {
  defineStatement,
  type EventRow,
  migrateWarehouse,
  noParams,
  tables,
  type Warehouse,
} from '@hourglass/projections'
import { type BenchContext, eventsInRollup, pollUntil, VISIBLE_POLL_MS } from './benchContext.ts'
import type { BenchSource } from './hourglassApi.ts'
import { meterPhase, type PhaseUsage } from './measures.ts'
import { type EventFactory, toBaselineRow } from './producerEvents.ts'

/**
 * The direct chDB baseline: the rows the events projection would write, inserted straight into a
 * second database of the same chDB (one data folder per process) with the same DDL, so the
 * materialized view and its rollup cost the same. Only HTTP, the log and the projection loop
 * are missing.
 */
export interface DirectBaseline {
  readonly database: string
  /** Inserts one batch with the settings the projection runner uses; resolves once ClickHouse has it. */
  insert(rows: readonly EventRow[], batchToken: string): Promise<void>
  /** Events of a source visible in the baseline's hourly rollup. */
  rollupTotal(sourceId: string): Promise<number>
  drop(): Promise<void>
}

const recreateDatabase = (database: string, create: boolean) =>
  defineStatement({
    name: `${create ? 'create' : 'drop'} the baseline's database`,
    kind: 'schema',
    params: noParams,
    sql: () => (create ? `CREATE DATABASE ${database}` : `DROP DATABASE IF EXISTS ${database}`),
  })

export async function prepareDirectBaseline(warehouse: Warehouse, database: string): Promise<DirectBaseline> {
  if (database === warehouse.database) throw new Error('the baseline needs a database of its own')
  const baseline = warehouse.forDatabase(database)
  await baseline.run(recreateDatabase(database, false), {})
  await baseline.run(recreateDatabase(database, true), {})
  await migrateWarehouse(baseline)
  return {
    database,
    // The projection's own settings: a token of its own, through the warehouse port.
    insert: (rows, batchToken) => baseline.insert(tables.eventsRaw, rows, { token: batchToken }),
    rollupTotal: (sourceId) => eventsInRollup(warehouse, database, sourceId),
    drop: () => baseline.run(recreateDatabase(database, false), {}),
  }
}

export interface BaselinePlan {
  readonly events: number
  readonly batchSize: number
  readonly timeOf: (index: number) => number
  readonly visibleTimeoutMs: number
}

export interface BaselineResult {
  readonly rows: number
  readonly inserts: number
  /** Time in the inserts plus the wait until the rollup counts every row; building rows is not counted. */
  readonly seconds: number | null
  readonly usage: PhaseUsage
}

/** Inserts the events an ingest phase sends (same factory, same indexes) straight into chDB. */
export async function measureDirectBaseline(
  ctx: BenchContext,
  baseline: DirectBaseline,
  scope: BenchSource,
  events: EventFactory,
  plan: BaselinePlan,
): Promise<BaselineResult> {
  const inserts = Math.ceil(plan.events / plan.batchSize)
  let insertMs = 0
  let done = 0
  const meter = meterPhase(ctx.probe, ctx.rss, ctx.producers.cpuSeconds)
  const stopTicker = ctx.progress.every(2000, () => `${done.toLocaleString('en-US')} rows inserted`)
  try {
    for (let batch = 0; batch < inserts; batch++) {
      const from = batch * plan.batchSize
      const count = Math.min(plan.batchSize, plan.events - from)
      const receivedAt = Date.now()
      const rows = Array.from({ length: count }, (_, i) =>
        toBaselineRow(events.event(from + i, plan.timeOf(from + i)), scope, from + i, receivedAt),
      )
      const startedAt = performance.now()
      await baseline.insert(rows, `bench-baseline:${scope.sourceId}:${from}`)
      insertMs += performance.now() - startedAt
      done += count
    }
  } finally {
    stopTicker()
  }
  const waitFrom = performance.now()
  const visibleAt = await pollUntil(
    async () => (await baseline.rollupTotal(scope.sourceId)) >= plan.events,
    VISIBLE_POLL_MS,
    plan.visibleTimeoutMs,
  )
  return {
    rows: plan.events,
    inserts,
    seconds: visibleAt === null ? null : (insertMs + (visibleAt - waitFrom)) / 1000,
    usage: meter.stop(),
  }
}
