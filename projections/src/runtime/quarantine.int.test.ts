import type { NewTelemetryRecord } from '@hourglass/log'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventsProjection } from '../eventsProjection.ts'
import { type Projection, projectionKey } from '../projection.ts'
import { tables } from '../tables.ts'
import { countOf, eventsWithInserts, fixtureEvent, workerCases } from '../testing/workerFixtures.ts'
import type { Warehouse } from '../warehouse/warehouse.ts'
import { WarehouseUnavailableError } from '../warehouse/warehouseErrors.ts'
import { readinessOf } from './projectionHealth.ts'
import type { ProjectionWorker } from './projectionWorker.ts'
import { createQuarantineStore } from './quarantineStore.ts'

const cases = workerCases('quarantine')
const EVENTS = projectionKey(eventsProjection)

beforeAll(cases.open)
afterAll(cases.close)

/**
 * A fresh log and database, with `events` appended, and the embedded worker over them, run until
 * it has caught up. `whileRunning` sees the worker before that.
 */
async function given(
  projection: Projection,
  events: readonly NewTelemetryRecord[],
  whileRunning?: (worker: ProjectionWorker) => Promise<void>,
) {
  const { db, log, worker: start } = await cases.given([projection])
  await log.telemetry.appendEvents(events)
  const worker = start()
  await worker.start()
  await whileRunning?.(worker)
  await worker.caughtUp(projection.name, await log.telemetry.partitionHeads(), AbortSignal.timeout(60_000))
  const status = (await worker.status())[0]!
  await worker.close()
  await log.close()
  return { db, status, quarantined: await createQuarantineStore(db).list() }
}

const event = fixtureEvent
const count = countOf

const countsOf = async (db: Warehouse) => ({
  raw: await count(db, `SELECT count() AS n FROM ${db.table(tables.eventsRaw)}`),
  rollup: await count(db, `SELECT sum(events) AS n FROM ${db.table(tables.rollupHourly)}`),
})

/** The events projection, with what it sends changed for the records at `positions`. */
const corrupting = (
  positions: ReadonlySet<number>,
  change: (row: Record<string, unknown>) => object,
): Projection => ({
  ...eventsProjection,
  apply: (records, context) =>
    eventsProjection.apply(records, {
      ...context,
      insert: (table, rows) =>
        context.insert(
          table,
          rows.map((row) => {
            const r = row as Record<string, unknown>
            return positions.has(r.position as number) ? change(r) : row
          }),
        ),
    }),
})

describe('a record the projection cannot apply', () => {
  it('given malformed records among 2,000, then they are quarantined with their positions and every other one counts once', async () => {
    const bad = new Set([7, 777, 1_500])
    const events = Array.from({ length: 2_000 }, (_, i) => event(i, bad.has(i) ? { name: `cut\ud83d` } : {}))
    const { db, status, quarantined } = await given(eventsProjection, events)
    expect(await countsOf(db)).toEqual({ raw: 1_997, rollup: 1_997 })
    expect(quarantined.map((r) => [r.projection, r.recordId, r.status, r.errorCode])).toEqual(
      [...bad].map((i) => [EVENTS, `evt-${i}`, 'held', 'INVALID_LOG_RECORD']),
    )
    expect(status).toMatchObject({ quarantined: 3, stalledSince: null, lastError: null, lag: 0 })
  })

  it('given a value ClickHouse itself refuses, then the probe finds that one record by halving, on the Null engine', async () => {
    const events = Array.from({ length: 1_000 }, (_, i) => event(i))
    const { db, quarantined, status } = await given(
      corrupting(new Set([613]), (row) => ({ ...row, ts: 'not a time' })),
      events,
    )
    expect(await countsOf(db)).toEqual({ raw: 999, rollup: 999 })
    expect(quarantined).toEqual([
      expect.objectContaining({ projection: EVENTS, recordId: 'evt-613', status: 'held', attempts: 0 }),
    ])
    expect(quarantined[0]!.errorCode).toMatch(/^CANNOT_PARSE/)
    expect(status.quarantined).toBe(1)
  })

  it('given an engine that is away for a while, then the projection says it is stalled, retries, and quarantines nothing', async () => {
    let refusals = 0
    let away = true
    const flaky = eventsWithInserts(async (records, table, rows, insert) => {
      if (records[0]!.position >= 500 && away) {
        refusals++
        throw new WarehouseUnavailableError('insert', 'TIMEOUT_EXCEEDED', { cause: new Error('timed out') })
      }
      await insert(table, rows)
    })
    const whileAway = async (worker: ProjectionWorker) => {
      let stalled = (await worker.status())[0]!
      while (stalled.failures < 2) {
        await new Promise((resolve) => setTimeout(resolve, 50))
        stalled = (await worker.status())[0]!
      }
      expect(stalled.stalledSince).not.toBeNull()
      expect(stalled.lastError).toMatch(/timed out/)
      const readiness = readinessOf([stalled], { maxLag: 100_000 })
      expect(readiness.ready).toBe(false)
      expect(readiness.reasons).toEqual([expect.stringMatching(/^events@v1 stalled since .*timed out/)])
      away = false
    }
    const { db, quarantined, status } = await given(
      flaky,
      Array.from({ length: 1_500 }, (_, i) => event(i)),
      whileAway,
    )
    expect(refusals).toBeGreaterThanOrEqual(2)
    expect(await countsOf(db)).toEqual({ raw: 1_500, rollup: 1_500 })
    expect(quarantined).toEqual([])
    expect(status).toMatchObject({ quarantined: 0, failures: refusals, stalledSince: null, lastError: null })
    expect(readinessOf([status], { maxLag: 100_000 }).ready).toBe(true)
  })
})
