import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventsProjection } from '../eventsProjection.ts'
import type { Projection } from '../projection.ts'
import { tables } from '../tables.ts'
import {
  caughtUpWith,
  countOf,
  eventsWithInserts,
  fixtureEvent,
  replayIn,
  workerCases,
} from '../testing/workerFixtures.ts'
import type { ObservedStatement, Warehouse } from '../warehouse/warehouse.ts'
import type { BatchReport } from './projectionWorker.ts'
import type { WarehouseChange } from './warehouseChanges.ts'
import { createSingleWriterWorker } from './workers.ts'

const silent = pino({ level: 'silent' })
const cases = workerCases('streamed')
beforeAll(cases.open)
afterAll(cases.close)

const EVENTS = 3_000
/** Live batches of 100 records, rebuild batches of 400: a streamed batch spans 800 positions, an insert every 400 rows. */
const BATCH = 100
const REBUILD_BATCH = 400

/**
 * A log of `EVENTS` events, served by `projection` (caught up), then rebuilt beside the serving
 * generation; every batch of the rebuild, every insert into the built raw table and every change
 * told to the listener noted.
 */
async function rebuilt(projection: Projection) {
  const { db, telemetry, control } = await cases.given([projection], BATCH)
  await telemetry.appendEvents(Array.from({ length: EVENTS }, (_, i) => fixtureEvent(i)))
  const pending = new Map<string, number>()
  const tell = (change: WarehouseChange, delta: number) => {
    const keys = change.everything
      ? ['everything']
      : [...change.hours].flatMap(([account, scopes]) =>
          [...scopes].flatMap(([scope, hours]) => [...hours].map((hour) => `${account}/${scope}/${hour}`)),
        )
    for (const key of keys) pending.set(key, (pending.get(key) ?? 0) + delta)
  }
  /** Once the serving lane has caught up, every batch is the rebuild's. */
  let rebuilding = false
  const batches: BatchReport[] = []
  const worker = createSingleWriterWorker({
    log: telemetry,
    control,
    warehouse: db,
    projections: [projection],
    logger: silent,
    batchSize: BATCH,
    rebuildBatchSize: REBUILD_BATCH,
    changes: { changing: (change) => tell(change, 1), changed: (change) => tell(change, -1) },
    onBatch: (batch) => {
      if (rebuilding) batches.push(batch)
    },
  })
  await worker.start()
  await caughtUpWith(worker, telemetry, [projection.name])
  rebuilding = true
  const inserts: ObservedStatement[] = []
  db.observe((statement) => {
    if (statement.kind === 'insert' && statement.table.endsWith(`${tables.eventsRaw}__g1`))
      inserts.push(statement)
  })
  const result = await replayIn(db, telemetry)(projection)
  const status = await worker.status()
  await worker.close()
  return { db, result, batches, inserts, pending, status }
}

const rawCount = (db: Warehouse, where = '1') =>
  countOf(db, `SELECT count() AS n FROM ${db.table(tables.eventsRaw)} WHERE ${where}`)
const rolledUp = (db: Warehouse) =>
  countOf(db, `SELECT sum(events) AS n FROM ${db.table(tables.rollupHourly)}`)

describe('a rebuild applied a chunk of records at a time', () => {
  it('given a projection that applies in chunks, when it is rebuilt, then batches of two rebuild batches go out a rebuild batch per insert, and the switched generation equals the log', async () => {
    const { db, result, batches, inserts, pending, status } = await rebuilt(eventsProjection)

    expect(result).toMatchObject({ switched: true })
    // A batch of records read at once spans at most a rebuild batch (400 records, 400 positions here).
    expect(batches.map((batch) => batch.to - batch.from)).toEqual([800, 800, 800, 600])
    expect(batches.reduce((sum, batch) => sum + batch.fresh, 0)).toBe(EVENTS)
    expect(Math.max(...inserts.map((insert) => insert.rows))).toBe(REBUILD_BATCH)
    expect(inserts.reduce((sum, insert) => sum + insert.rows, 0)).toBe(EVENTS)
    expect(await rawCount(db)).toBe(EVENTS)
    expect(await countOf(db, `SELECT uniqExact(id) AS n FROM ${db.table(tables.eventsRaw)}`)).toBe(EVENTS)
    expect(await rolledUp(db)).toBe(EVENTS)
    // Every hour told as changing is told as changed, once.
    expect([...pending.values()].filter((n) => n !== 0)).toEqual([])
    expect(status.find((s) => s.projection === 'events')).toMatchObject({ lag: 0, lastError: null })
  })

  it('given rows that stop encoding after the first insert of a batch went out, when it is rebuilt, then the batch is written again as objects over what went out, each record once', async () => {
    // From the 1,200th record on, a session the encoder refuses (a number) and the warehouse stores as text.
    const refusing = eventsWithInserts((_records, table, rows, insert) =>
      insert(
        table,
        rows.map((row) =>
          (row as { position: number }).position >= 1_200 ? { ...row, session: 12_345 } : row,
        ),
      ),
    )
    const { db, result, inserts } = await rebuilt(refusing)

    expect(result).toMatchObject({ switched: true })
    // The streamed attempt's first inserts, then the batch again as objects.
    expect(inserts.some((insert) => insert.rows === REBUILD_BATCH)).toBe(true)
    expect(inserts.some((insert) => insert.rows > REBUILD_BATCH)).toBe(true)
    expect(await rawCount(db)).toBe(EVENTS)
    expect(await countOf(db, `SELECT uniqExact(id) AS n FROM ${db.table(tables.eventsRaw)}`)).toBe(EVENTS)
    expect(await rawCount(db, `session = '12345'`)).toBe(EVENTS - 1_200)
    expect(await rolledUp(db)).toBe(EVENTS)
  })
})
