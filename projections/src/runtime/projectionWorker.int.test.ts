import type { TelemetryEvent } from '@hourglass/schemas'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventsProjection } from '../eventsProjection.ts'
import { storeStatsProjection } from '../storeStatsProjection.ts'
import { tables } from '../tables.ts'
import {
  caughtUpWith,
  countOf,
  eventsWithInserts,
  fixtureEvent,
  purchaseDefined,
  storeEvent,
  workerCases,
} from '../testing/workerFixtures.ts'
import { userStatsProjection } from '../userStatsProjection.ts'
import { createWarehouseCheckpointStore } from './checkpointStore.ts'
import { replayProjection } from './replay.ts'
import { createSingleWriterWorker, EMBEDDED_LOG } from './workers.ts'

const cases = workerCases('worker')
const silent = pino({ level: 'silent' })

beforeAll(cases.open)
afterAll(cases.close)

/** A fresh log and database, and the embedded worker over them (not started). */
const given = cases.given

const event = fixtureEvent

const count = countOf

describe('the projection worker over the embedded log', () => {
  it('given a batch whose attempt failed after some of its inserts, when it is retried, then every event counts once', async () => {
    const { db, telemetry, control } = await given([])
    const events = 3_000
    await telemetry.appendEvents(Array.from({ length: events }, (_, i) => event(i)))
    let failures = 0
    const failingOnce = eventsWithInserts(async (records, table, rows, insert) => {
      await insert(table, rows)
      if (records[0]!.position >= 1_000 && failures === 0) {
        failures++
        throw new Error('connection reset after the insert')
      }
    })
    const worker = createSingleWriterWorker({
      log: telemetry,
      control,
      warehouse: db,
      projections: [failingOnce],
      logger: silent,
      batchSize: 500,
    })
    await worker.start()
    await caughtUpWith(worker, telemetry, ['events'])
    await worker.close()
    expect(failures).toBe(1)
    expect(await count(db, `SELECT count() AS n FROM ${db.table(tables.eventsRaw)}`)).toBe(events)
    expect(await count(db, `SELECT sum(events) AS n FROM ${db.table(tables.rollupHourly)}`)).toBe(events)
    expect(
      await count(
        db,
        `SELECT sum(events) AS n FROM ${db.table(tables.rollupHourly)} WHERE name = 'purchase'`,
      ),
    ).toBe(events / 3)
  })

  it('given a write the warehouse does not answer, when a step runs past the bound, then the status says the worker is stalled, and once the write is answered it goes on', async () => {
    const { db, telemetry, control } = await given([])
    await telemetry.appendEvents(Array.from({ length: 1_000 }, (_, i) => event(i)))
    let answer = () => {}
    const answered = new Promise<void>((resolve) => {
      answer = resolve
    })
    let held = false
    const unanswered = eventsWithInserts(async (records, table, rows, insert) => {
      if (records[0]!.position >= 500 && !held) {
        held = true
        await answered
      }
      await insert(table, rows)
    })
    const worker = createSingleWriterWorker({
      log: telemetry,
      control,
      warehouse: db,
      projections: [unanswered],
      logger: silent,
      batchSize: 500,
      hungAfterMs: 300,
    })
    await worker.start()
    while (!held) await new Promise((resolve) => setTimeout(resolve, 10))
    const early = (await worker.status())[0]!
    await new Promise((resolve) => setTimeout(resolve, 400))
    const stalled = (await worker.status())[0]!
    answer()
    await caughtUpWith(worker, telemetry, ['events'])
    // The step that held the write ends with the next turn of the loop.
    let after = (await worker.status())[0]!
    for (let i = 0; i < 100 && after.stalledSince !== null; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      after = (await worker.status())[0]!
    }
    await worker.close()

    expect(early.stalledSince).toBeNull()
    expect(stalled.stalledSince).not.toBeNull()
    expect(stalled.lastError).toMatch(/has run for \d+ s without finishing/)
    expect(after).toMatchObject({ stalledSince: null, lastError: null, committed: 1_000 })
  })

  it('given a definition recorded between events, then per-user statistics count only the events after it', async () => {
    const { db, telemetry, control, worker: start } = await given([userStatsProjection])
    await telemetry.appendEvents(Array.from({ length: 30 }, (_, i) => event(i, { name: 'purchase' })))
    await control.appendToStream('tracking-plan-src-1', [purchaseDefined('src-1', 'acct-1')], 'no-stream')
    const after = Array.from({ length: 40 }, (_, i) => event(100 + i, { name: 'purchase' }))
    await telemetry.appendEvents(after)
    const worker = start()
    await worker.start()
    await caughtUpWith(worker, telemetry, ['user-stats'])
    await worker.close()
    const expected = after.reduce(
      (sum, record) => sum + Number((record.data as TelemetryEvent).attrs.quantity),
      0,
    )
    expect(await count(db, `SELECT sum(amount) AS n FROM ${db.table(tables.userStatsTotal)}`)).toBe(expected)
    expect(await count(db, `SELECT sum(events) AS n FROM ${db.table(tables.userStatsHourly)}`)).toBe(
      after.length,
    )
  })

  it('given a person erased whole, then their events before and after the erasure are in no answer, and the report counts the ones removed', async () => {
    const {
      db,
      telemetry,
      control,
      worker: start,
    } = await given([eventsProjection, storeStatsProjection], 50)
    const worker = start()
    await worker.start()
    await telemetry.appendEvents([
      ...Array.from({ length: 120 }, (_, i) => storeEvent(i, i % 4 === 0 ? 'ana' : 'bob')),
      ...Array.from({ length: 90 }, (_, i) => event(i, { subject: i % 3 === 0 ? 'ana' : 'carl' })),
    ])
    await caughtUpWith(worker, telemetry, ['events', 'store-stats'])
    const erased = await control.appendToStream(
      'people-store-1-ana',
      [{ type: 'person.erased', data: { personId: 'ana', storeId: 'store-1', at: Date.now() } }],
      'any',
    )
    expect(erased.status).toBe('appended')
    // Events of the erased person that arrive later are left out too.
    await telemetry.appendEvents([
      storeEvent(500, 'ana'),
      storeEvent(501, 'bob'),
      event(500, { subject: 'ana' }),
    ])
    await caughtUpWith(worker, telemetry, ['events', 'store-stats'])
    const position = erased.status === 'appended' ? erased.firstPosition : -1
    const report = async () =>
      count(
        db,
        `SELECT events AS n FROM ${db.table(tables.storeErasures)} WHERE position = ${position} LIMIT 1`,
      )
    for (let waited = 0; (await report()) === 0 && waited < 100; waited++)
      await new Promise((r) => setTimeout(r, 100))
    await worker.close()
    expect(await report()).toBe(30)
    expect(
      await count(db, `SELECT count() AS n FROM ${db.table(tables.storeEvents)} WHERE person_id = 'ana'`),
    ).toBe(0)
    expect(await count(db, `SELECT count() AS n FROM ${db.table(tables.storeEvents)}`)).toBe(90 + 1)
    expect(await count(db, `SELECT sum(events) AS n FROM ${db.table(tables.storeHourly)}`)).toBe(90 + 1)
    expect(
      await count(db, `SELECT count() AS n FROM ${db.table(tables.eventsRaw)} WHERE subject = 'ana'`),
    ).toBe(0)
    expect(await count(db, `SELECT sum(events) AS n FROM ${db.table(tables.rollupHourly)}`)).toBe(60)
  })

  it('given a person whose events are erased, then events after the erasure still count', async () => {
    const { db, telemetry, control, worker: start } = await given([storeStatsProjection], 50)
    await telemetry.appendEvents(
      Array.from({ length: 40 }, (_, i) => storeEvent(i, i % 2 === 0 ? 'ana' : 'bob')),
    )
    await control.appendToStream(
      'people-store-1-ana',
      [{ type: 'person.events-erased', data: { personId: 'ana', storeId: 'store-1', at: Date.now() } }],
      'any',
    )
    await telemetry.appendEvents([storeEvent(100, 'ana'), storeEvent(101, 'ana')])
    const worker = start()
    await worker.start()
    await caughtUpWith(worker, telemetry, ['store-stats'])
    await worker.close()
    expect(
      await count(db, `SELECT count() AS n FROM ${db.table(tables.storeEvents)} WHERE person_id = 'ana'`),
    ).toBe(2)
    expect(await count(db, `SELECT sum(events) AS n FROM ${db.table(tables.storeHourly)}`)).toBe(22)
  })

  it('given a running worker, when a projection is replayed, then it is rebuilt from position 0 to the same answers while the others keep going', async () => {
    const { db, telemetry, worker: start } = await given([eventsProjection, storeStatsProjection], 400)
    await telemetry.appendEvents(Array.from({ length: 2_000 }, (_, i) => event(i)))
    const worker = start()
    await worker.start()
    await caughtUpWith(worker, telemetry, ['events', 'store-stats'])
    const before = await count(db, `SELECT sum(events) AS n FROM ${db.table(tables.rollupHourly)}`)
    const result = await replayProjection({
      warehouse: db,
      checkpoints: createWarehouseCheckpointStore(db),
      projection: eventsProjection,
      members: () => telemetry.groupMembers(EMBEDDED_LOG),
      heads: () => telemetry.partitionHeads(),
      starts: () => telemetry.partitionStarts(),
      pollMs: 50,
    })
    await telemetry.appendEvents(Array.from({ length: 100 }, (_, i) => event(5_000 + i)))
    await caughtUpWith(worker, telemetry, ['events', 'store-stats'])
    const status = await worker.status()
    await worker.close()
    expect(result).toMatchObject({ generation: 1, committed: result.target })
    expect(before).toBe(2_000)
    expect(await count(db, `SELECT sum(events) AS n FROM ${db.table(tables.rollupHourly)}`)).toBe(2_100)
    expect(await count(db, `SELECT count() AS n FROM ${db.table(tables.eventsRaw)}`)).toBe(2_100)
    expect(status.find((s) => s.projection === 'events')).toMatchObject({
      generation: 1,
      lag: 0,
      lastError: null,
    })
  })
})
