import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type ControlStore,
  createEmbeddedLog,
  type NewTelemetryRecord,
  type TelemetryRecord,
} from '@hourglass/log'
import { STORE_EVENT, TELEMETRY_EVENT, type TelemetryEvent, telemetryStream } from '@hourglass/schemas'
import { pino } from 'pino'
import { z } from 'zod'
import { eventsProjection } from '../eventsProjection.ts'
import { migrateWarehouse } from '../migrations.ts'
import type { Projection } from '../projection.ts'
import { createWarehouseCheckpointStore } from '../runtime/checkpointStore.ts'
import type { ProjectionWorker } from '../runtime/projectionWorker.ts'
import { replayProjection } from '../runtime/replay.ts'
import { createSingleWriterWorker, EMBEDDED_LOG } from '../runtime/workers.ts'
import { defineQuery, noParams } from '../warehouse/namedStatements.ts'
import { openWarehouse, type Warehouse } from '../warehouse/warehouse.ts'

const HOUR = 3600_000
/** The hour the fixture events start in. */
export const firstHour = Date.UTC(2026, 9, 1)

/** The `i`-th event of a test's series: one of two names, five hours, four skus, 25 users. */
export const fixtureEvent = (i: number, overrides: Partial<TelemetryEvent> = {}): NewTelemetryRecord => {
  const data: TelemetryEvent = {
    id: `evt-${i}`,
    accountId: 'acct-1',
    sourceId: 'src-1',
    name: i % 3 === 0 ? 'purchase' : 'app_open',
    timestamp: firstHour + ((i * 7919) % (5 * HOUR)),
    receivedAt: firstHour + 5 * HOUR,
    attrs: { sku: `sku-${i % 4}`, quantity: 1 + (i % 3) },
    subject: `user-${i % 25}`,
    ...overrides,
  }
  return { stream: telemetryStream(data.sourceId), id: data.id, type: TELEMETRY_EVENT, data }
}

/**
 * A control record of the tracking plan: `purchase` defined for a source from `firstHour`, with a
 * string `sku` and an integer `quantity` (per-user statistics count what is defined).
 */
export const purchaseDefined = (sourceId: string, accountId: string) => ({
  type: 'event.defined',
  data: {
    sourceId,
    accountId,
    eventCode: 'purchase-1',
    name: 'purchase',
    attrs: [
      { name: 'sku', type: 'string' },
      { name: 'quantity', type: 'integer' },
    ],
    at: firstHour,
  },
})

/** Store event `i` of store-1, by a person. */
export const storeEvent = (i: number, personId: string): NewTelemetryRecord => ({
  stream: telemetryStream('store-1'),
  id: `store-evt-${i}`,
  type: STORE_EVENT,
  data: {
    id: `store-evt-${i}`,
    accountId: 'acct-1',
    storeId: 'store-1',
    personId,
    type: 'visit',
    timestamp: firstHour + i * 60_000,
    receivedAt: firstHour,
    data: {},
  },
})

/** The number a test's `SELECT … AS n` answers (0 for no row). */
export const countOf = (db: Warehouse, sql: string) =>
  db
    .select(
      defineQuery({
        name: 'count',
        params: noParams,
        row: z.object({ n: z.coerce.number() }),
        sql: () => sql,
      }),
      {},
    )
    .then((rows) => rows[0]?.n ?? 0)

/**
 * The cases of a test file, each over a fresh log and database of its own, in one scratch folder.
 * chDB allows one embedded warehouse a process: `open` opens it (before all cases), `close`
 * closes it and removes the folder (after all).
 */
export function workerCases(name: string) {
  const root = mkdtempSync(join(tmpdir(), `hourglass-${name}-`))
  const embeddedPath = join(root, 'warehouse')
  const logger = pino({ level: 'silent' })
  let warehouse: Warehouse | undefined
  let cases = 0
  return {
    async open() {
      warehouse = await openWarehouse({ database: `${name}_setup`, embeddedPath })
    },
    async close() {
      await warehouse?.close()
      rmSync(root, { recursive: true, force: true })
    },
    /** A fresh, migrated database and a fresh log, and the embedded worker over them (not started). */
    async given(projections: readonly Projection[], batchSize = 500) {
      cases++
      const db = await openWarehouse({ database: `${name}_${cases}`, embeddedPath })
      await migrateWarehouse(db)
      const log = createEmbeddedLog({ path: join(root, `log-${cases}`) })
      const { telemetry, control } = log
      const worker = () =>
        createSingleWriterWorker({ log: telemetry, control, warehouse: db, projections, logger, batchSize })
      return { db, log, telemetry, control, worker }
    },
  }
}

/** Forty store events of store-1, every other one ana's, the rest bob's. */
export const anaAndBobStoreEvents = () =>
  Array.from({ length: 40 }, (_, i) => storeEvent(i, i % 2 === 0 ? 'ana' : 'bob'))

/** Records the erasure of a person's events at store-1 so far. */
export const eraseStoreEventsOf = (control: Pick<ControlStore, 'appendToStream'>, personId: string) =>
  control.appendToStream(
    `people-store-1-${personId}`,
    [{ type: 'person.events-erased', data: { personId, storeId: 'store-1', at: Date.now() } }],
    'any',
  )

/** Resolves once the worker has applied, for each named projection, every record the log holds now. */
export async function caughtUpWith(
  worker: Pick<ProjectionWorker, 'caughtUp'>,
  log: { partitionHeads(): Promise<number[]> },
  names: readonly string[],
  timeoutMs = 120_000,
) {
  const heads = await log.partitionHeads()
  for (const name of names) await worker.caughtUp(name, heads, AbortSignal.timeout(timeoutMs))
}

/**
 * The events projection with its inserts passed through `around`, which gets the batch's records,
 * the table, the rows and the real insert: to fail, hold or count writes the way an engine might.
 */
export const eventsWithInserts = (
  around: (
    records: readonly TelemetryRecord[],
    table: string,
    rows: readonly object[],
    insert: (table: string, rows: readonly object[]) => Promise<void>,
  ) => Promise<void>,
): Projection => ({
  ...eventsProjection,
  apply: (records, context) =>
    eventsProjection.apply(records, {
      ...context,
      insert: (table, rows) => around(records, table, rows, context.insert),
    }),
})

/** A replay of a projection over an embedded log's database, watched every 20 ms. */
export const replayIn =
  (
    db: Warehouse,
    telemetry: {
      groupMembers(group: string): Promise<string[]>
      partitionHeads(): Promise<number[]>
      partitionStarts(): Promise<number[]>
    },
  ) =>
  (projection: Projection, signal?: AbortSignal) =>
    replayProjection({
      warehouse: db,
      checkpoints: createWarehouseCheckpointStore(db),
      projection,
      members: () => telemetry.groupMembers(EMBEDDED_LOG),
      heads: () => telemetry.partitionHeads(),
      starts: () => telemetry.partitionStarts(),
      pollMs: 20,
      ...(signal ? { signal } : {}),
    })
