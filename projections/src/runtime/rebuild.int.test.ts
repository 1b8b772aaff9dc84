import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventsProjection } from '../eventsProjection.ts'
import { type Projection, projectionKey } from '../projection.ts'
import { storeStatsProjection } from '../storeStatsProjection.ts'
import { tables } from '../tables.ts'
import {
  anaAndBobStoreEvents,
  caughtUpWith,
  countOf,
  eraseStoreEventsOf,
  fixtureEvent,
  replayIn,
  storeEvent,
  workerCases,
} from '../testing/workerFixtures.ts'
import type { Warehouse } from '../warehouse/warehouse.ts'
import type { BuildingStatus } from './buildingStatus.ts'
import { createWarehouseCheckpointStore } from './checkpointStore.ts'
import { createGeneration, loadGenerationStates } from './generations.ts'
import { createQuarantineStore } from './quarantineStore.ts'
import { cancelReplay, replayProjection } from './replay.ts'
import { prepareRebuilds } from './upgrades.ts'
import { createSingleWriterWorker, EMBEDDED_LOG } from './workers.ts'

const silent = pino({ level: 'silent' })
const cases = workerCases('rebuild')
beforeAll(cases.open)
afterAll(cases.close)

/** A fresh log and database, the embedded worker over them (not started), and a replay of one projection. */
async function given(projections: readonly Projection[], batchSize = 500) {
  const { db, telemetry, control, worker } = await cases.given(projections, batchSize)
  return { db, telemetry, control, worker, replay: replayIn(db, telemetry) }
}

/** `count` events projected by a running worker of the events projection, caught up. */
async function servingEvents(count: number, batchSize: number) {
  const given_ = await given([eventsProjection], batchSize)
  await given_.telemetry.appendEvents(Array.from({ length: count }, (_, i) => fixtureEvent(i)))
  const worker = given_.worker()
  await worker.start()
  await caughtUpWith(worker, given_.telemetry, ['events'])
  return { ...given_, worker }
}

/** Resolves once the events projection's next generation is being built. */
async function untilBuilding(db: Warehouse) {
  while ((await loadGenerationStates(db)).get('events@v1')?.stage !== 'building')
    await new Promise((resolve) => setTimeout(resolve, 5))
}

const totalOf = (db: Warehouse) =>
  countOf(db, `SELECT sum(events) AS n FROM ${db.table(tables.rollupHourly)}`)

const builtTablesLeft = (db: Warehouse) =>
  countOf(
    db,
    `SELECT count() AS n FROM system.tables WHERE database = '${db.database}' AND name LIKE '%\\_\\_g%'`,
  )

describe('rebuilding a projection beside its serving generation', () => {
  it('given a serving rollup and ingest that keeps appending, when the projection is replayed, then no reader sample is below the total acknowledged before, and the end equals the log', async () => {
    const { db, telemetry, worker, replay } = await servingEvents(20_000, 500)
    const before = await totalOf(db)

    let done = false
    const samples: { total: number; stage: string | undefined }[] = []
    const reader = (async () => {
      while (!done) {
        const stage = (await loadGenerationStates(db)).get('events@v1')?.stage
        samples.push({ total: await totalOf(db), stage })
      }
    })()
    let appended = 20_000
    const ingest = (async () => {
      while (!done) {
        await telemetry.appendEvents(Array.from({ length: 200 }, (_, i) => fixtureEvent(appended + i)))
        appended += 200
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    })()
    const result = await replay(eventsProjection)
    await telemetry.appendEvents(Array.from({ length: 100 }, (_, i) => fixtureEvent(1_000_000 + i)))
    done = true
    await Promise.all([reader, ingest])
    await caughtUpWith(worker, telemetry, ['events'])
    const status = await worker.status()
    await worker.close()

    expect(before).toBe(20_000)
    expect(result).toMatchObject({ generation: 1, switched: true })
    expect(samples.filter((sample) => sample.stage === 'building').length).toBeGreaterThan(0)
    expect(samples.filter((sample) => sample.total < before)).toEqual([])
    const logged = appended + 100
    expect(await totalOf(db)).toBe(logged)
    expect(await countOf(db, `SELECT count() AS n FROM ${db.table(tables.eventsRaw)}`)).toBe(logged)
    expect(await builtTablesLeft(db)).toBe(0)
    expect(status.find((s) => s.projection === 'events')).toMatchObject({
      generation: 1,
      lag: 0,
      lastError: null,
    })
  })

  it('given an erasure recorded while the next generation is built, when it switches, then the erasure holds in it', async () => {
    const { db, telemetry, control, worker: start, replay } = await given([storeStatsProjection], 10)
    await telemetry.appendEvents(
      Array.from({ length: 40 }, (_, i) => storeEvent(i, i % 2 === 0 ? 'ana' : 'bob')),
    )
    let worker = start()
    await worker.start()
    await caughtUpWith(worker, telemetry, ['store-stats'])
    await worker.close()
    // The build is recorded while no worker runs: the erasure certainly falls during it.
    const replayed = replay(storeStatsProjection)
    while ((await loadGenerationStates(db)).get('store-stats@v1')?.stage !== 'building')
      await new Promise((resolve) => setTimeout(resolve, 20))
    await control.appendToStream(
      'people-store-1-ana',
      [{ type: 'person.events-erased', data: { personId: 'ana', storeId: 'store-1', at: Date.now() } }],
      'any',
    )
    await telemetry.appendEvents([storeEvent(100, 'ana'), storeEvent(101, 'bob')])
    worker = start()
    await worker.start()
    const result = await replayed
    await caughtUpWith(worker, telemetry, ['store-stats'])
    await worker.close()

    expect(result).toMatchObject({ generation: 1, switched: true })
    const ana = `SELECT count() AS n FROM ${db.table(tables.storeEvents)} WHERE person_id = 'ana'`
    expect(await countOf(db, ana)).toBe(1)
    expect(await countOf(db, `SELECT sum(events) AS n FROM ${db.table(tables.storeHourly)}`)).toBe(22)
    const reports = `SELECT count() AS n FROM ${db.table(tables.storeErasures)} WHERE person_id = 'ana'`
    expect(await countOf(db, reports)).toBe(1)
    const answer = `SELECT sum(events) AS n FROM ${db.table(tables.storeErasures)} WHERE person_id = 'ana'`
    expect(await countOf(db, answer)).toBe(20)
    expect(await builtTablesLeft(db)).toBe(0)
  })

  it('given an erasure completed before a rebuild, when the rebuild switches, then its report still answers once with the same count', async () => {
    const { db, telemetry, control, worker: start, replay } = await given([storeStatsProjection], 10)
    await telemetry.appendEvents(anaAndBobStoreEvents())
    await eraseStoreEventsOf(control, 'ana')
    const worker = start()
    await worker.start()
    await caughtUpWith(worker, telemetry, ['store-stats'])
    const reports = `SELECT count() AS n FROM ${db.table(tables.storeErasures)}`
    while ((await countOf(db, reports)) === 0) await new Promise((resolve) => setTimeout(resolve, 20))
    const answer = `SELECT sum(events) AS n FROM ${db.table(tables.storeErasures)} WHERE person_id = 'ana'`
    const before = await countOf(db, answer)
    const result = await replay(storeStatsProjection)
    await telemetry.appendEvents([storeEvent(100, 'bob')])
    await caughtUpWith(worker, telemetry, ['store-stats'])
    await worker.close()

    expect(before).toBe(20)
    expect(result).toMatchObject({ generation: 1, switched: true })
    expect(await countOf(db, reports)).toBe(1)
    expect(await countOf(db, answer)).toBe(before)
    expect(await builtTablesLeft(db)).toBe(0)
  })

  it('given records the projection cannot apply, when it is rebuilt, then the build sets them aside too, and after the switch they are held once for the serving generation', async () => {
    const { db, telemetry, worker: start, replay } = await given([eventsProjection], 500)
    const bad = new Set([7, 777])
    await telemetry.appendEvents(
      Array.from({ length: 1_000 }, (_, i) => fixtureEvent(i, bad.has(i) ? { name: 'cut\ud83d' } : {})),
    )
    const worker = start()
    await worker.start()
    await caughtUpWith(worker, telemetry, ['events'])
    const before = await createQuarantineStore(db).list({ status: 'held' })
    const result = await replay(eventsProjection)
    await telemetry.appendEvents([fixtureEvent(5_000)])
    await caughtUpWith(worker, telemetry, ['events'])
    const status = await worker.status()
    await worker.close()
    const held = await createQuarantineStore(db).list({ status: 'held' })

    expect(before.map((r) => [r.projection, r.generation, r.recordId])).toEqual([
      ['events@v1', 0, 'evt-7'],
      ['events@v1', 0, 'evt-777'],
    ])
    expect(result).toMatchObject({ generation: 1, switched: true })
    expect(await totalOf(db)).toBe(999)
    expect(held.map((r) => [r.projection, r.generation, r.recordId])).toEqual([
      ['events@v1', 1, 'evt-7'],
      ['events@v1', 1, 'evt-777'],
    ])
    expect(status.find((s) => s.projection === 'events')).toMatchObject({ generation: 1, quarantined: 2 })
  })

  it('given a switch stopped after the new generation serves and before the old one was dropped, when the runtime starts, then the old tables go and the answers stay', async () => {
    const { db, worker, replay } = await servingEvents(1_000, 500)
    expect(await replay(eventsProjection)).toMatchObject({ generation: 1, switched: true })
    await worker.close()
    // What the switch leaves under generation 1's built names until it drops them: the old generation.
    await createGeneration(db, eventsProjection, 1)
    expect(await builtTablesLeft(db)).toBeGreaterThan(0)

    const due = await prepareRebuilds({
      warehouse: db,
      checkpoints: createWarehouseCheckpointStore(db),
      projections: [eventsProjection],
      partitions: 1,
    })

    expect(due).toEqual([])
    expect(await builtTablesLeft(db)).toBe(0)
    expect(await totalOf(db)).toBe(1_000)
    expect((await loadGenerationStates(db)).get('events@v1')).toMatchObject({
      generation: 1,
      stage: 'serving',
    })
  })

  it('given a build under way, when it is cancelled, then the serving generation stays and the built tables go', async () => {
    const { db, telemetry, worker: start, replay } = await given([eventsProjection], 500)
    await telemetry.appendEvents(Array.from({ length: 1_000 }, (_, i) => fixtureEvent(i)))
    let worker = start()
    await worker.start()
    await caughtUpWith(worker, telemetry, ['events'])
    await worker.close()
    const replayed = replay(eventsProjection)
    await untilBuilding(db)
    expect(await cancelReplay(db, eventsProjection)).toBe(true)
    const result = await replayed
    worker = start()
    await worker.start()
    await telemetry.appendEvents([fixtureEvent(5_000)])
    await caughtUpWith(worker, telemetry, ['events'])
    const status = await worker.status()
    await worker.close()

    expect(result).toMatchObject({ switched: false })
    expect(await totalOf(db)).toBe(1_001)
    expect(await builtTablesLeft(db)).toBe(0)
    expect(status.find((s) => s.projection === 'events')).toMatchObject({ generation: 0 })
  })

  it('given a build under way beside a running worker and ingest, when it is cancelled, then the built tables go only once the worker has dropped its lane, and the projection goes on', async () => {
    const { db, telemetry, worker, replay } = await servingEvents(2_000, 200)
    const replayed = replay(eventsProjection)
    await untilBuilding(db)
    // Ingest goes on while the lane is built and cancelled.
    const appended = telemetry.appendEvents(Array.from({ length: 500 }, (_, i) => fixtureEvent(10_000 + i)))
    expect(await cancelReplay(db, eventsProjection)).toBe(true)
    const result = await replayed
    const whenDropped = (await worker.status()).find((s) => s.projection === 'events')
    const acknowledged = await countOf(
      db,
      `SELECT count() AS n FROM ${db.table(tables.projectionReplayAcks)}
       WHERE projection_name = 'events@v1' AND generation = ${result.generation}`,
    )
    await appended
    await telemetry.appendEvents([fixtureEvent(20_000)])
    await caughtUpWith(worker, telemetry, ['events'])
    const status = await worker.status()
    await worker.close()

    expect(result).toMatchObject({ switched: false })
    // The worker had read the cancel, dropped the lane and said so before the replay dropped the tables.
    expect(acknowledged).toBe(1)
    expect(whenDropped?.building).toBeNull()
    expect(await totalOf(db)).toBe(2_501)
    expect(await builtTablesLeft(db)).toBe(0)
    expect(status.find((s) => s.projection === 'events')).toMatchObject({ generation: 0, lastError: null })
  })

  it('given version 1 serving, when version 2 is deployed, then it is built beside it while reads go on, and version 2 serves at the end', async () => {
    const { db, telemetry, control, worker: start } = await given([eventsProjection], 500)
    await telemetry.appendEvents(Array.from({ length: 20_000 }, (_, i) => fixtureEvent(i)))
    const v1 = start()
    await v1.start()
    await caughtUpWith(v1, telemetry, ['events'])
    await v1.close()
    const before = await totalOf(db)

    const upgraded: Projection = { ...eventsProjection, version: 2 }
    const checkpoints = createWarehouseCheckpointStore(db)
    const due = await prepareRebuilds({ warehouse: db, checkpoints, projections: [upgraded], partitions: 1 })
    const worker = createSingleWriterWorker({
      log: telemetry,
      control,
      warehouse: db,
      projections: [upgraded],
      logger: silent,
      batchSize: 500,
    })
    await worker.start()
    let done = false
    const totals: number[] = []
    const building: BuildingStatus[] = []
    const reader = (async () => {
      while (!done) {
        totals.push(await totalOf(db))
        const status = (await worker.status())[0]
        if (status?.building) building.push(status.building)
      }
    })()
    const result = await replayProjection({
      warehouse: db,
      checkpoints,
      projection: upgraded,
      members: () => telemetry.groupMembers(EMBEDDED_LOG),
      heads: () => telemetry.partitionHeads(),
      starts: () => telemetry.partitionStarts(),
      pollMs: 20,
    })
    done = true
    await reader
    await telemetry.appendEvents([fixtureEvent(50_000)])
    await caughtUpWith(worker, telemetry, ['events'])
    await worker.close()

    expect(due.map((projection) => projectionKey(projection))).toEqual(['events@v2'])
    expect(result).toMatchObject({ switched: true })
    expect(totals.filter((total) => total < before)).toEqual([])
    expect(building.length).toBeGreaterThan(0)
    expect(building.every((b) => b.committed <= b.head && b.rate >= 0)).toBe(true)
    expect((await loadGenerationStates(db)).get('events@v2')?.stage).toBe('serving')
    expect(await totalOf(db)).toBe(20_001)
    expect(
      await prepareRebuilds({ warehouse: db, checkpoints, projections: [upgraded], partitions: 1 }),
    ).toEqual([])
  })
})
