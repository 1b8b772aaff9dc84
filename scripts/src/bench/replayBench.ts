import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEmbeddedLog, type EmbeddedLog, type NewTelemetryRecord } from '@hourglass/log'
import {
  createSingleWriterWorker,
  createWarehouseCheckpointStore,
  defineStatement,
  EMBEDDED_LOG,
  eventsProjection,
  migrateWarehouse,
  noParams,
  replayProjection,
  tables,
  toEventRow,
  type Warehouse,
} from '@hourglass/projections'
import { TELEMETRY_EVENT, type TelemetryEvent, telemetryStream } from '@hourglass/schemas'
import { pino } from 'pino'
import type { EmbeddedRuntime } from '../embeddedRuntime.ts'
import type { BenchFigure } from './benchFigure.ts'

/** Sizes of the replay phase: a log of a million events, rebuilt three ways. */
const PLAN = {
  events: 1_000_000,
  appendBatch: 10_000,
  sources: 20,
  /** The live batch size of embedded mode's default. */
  batchSize: 10_000,
  /** Rows per insert of the direct load. */
  directBatch: 100_000,
  hours: 24 * 30,
} as const

const HOUR = 3600_000
const firstHour = Date.UTC(2026, 9, 1)

const benchEvent = (i: number): NewTelemetryRecord => {
  const sourceId = `src-${i % PLAN.sources}`
  const data: TelemetryEvent = {
    id: `replay-${i}`,
    accountId: 'acct-replay',
    sourceId,
    name: i % 3 === 0 ? 'purchase' : 'app_open',
    timestamp: firstHour + ((i * 7919) % (PLAN.hours * HOUR)),
    receivedAt: firstHour + PLAN.hours * HOUR,
    attrs: { sku: `sku-${i % 50}` },
    subject: `user-${i % 5_000}`,
    session: `session-${i % 20_000}`,
  }
  return { stream: telemetryStream(sourceId), id: data.id, type: TELEMETRY_EVENT, data }
}

const database = (name: string, create: boolean) =>
  defineStatement({
    name: `${create ? 'create' : 'drop'} ${name}`,
    kind: 'schema',
    params: noParams,
    sql: () => (create ? `CREATE DATABASE IF NOT EXISTS ${name}` : `DROP DATABASE IF EXISTS ${name}`),
  })

async function freshDatabase(warehouse: Warehouse, name: string) {
  const db = warehouse.forDatabase(name)
  await db.run(database(name, false), {})
  await db.run(database(name, true), {})
  await migrateWarehouse(db)
  return db
}

const say = (line: string) => process.stderr.write(`[bench] replay: ${line}\n`)

async function appendLog(log: EmbeddedLog) {
  for (let from = 0; from < PLAN.events; from += PLAN.appendBatch) {
    const count = Math.min(PLAN.appendBatch, PLAN.events - from)
    await log.telemetry.appendEvents(Array.from({ length: count }, (_, i) => benchEvent(from + i)))
  }
}

/** The fastest load of the same rows straight into the same tables (and view) that we have: large JSON inserts. */
async function directLoad(log: EmbeddedLog, db: Warehouse) {
  const started = performance.now()
  for (let from = 0; from < PLAN.events; from += PLAN.directBatch) {
    const records = await log.telemetry.readPartition(0, from, PLAN.directBatch)
    await db.insert(tables.eventsRaw, records.map(toEventRow))
  }
  return (performance.now() - started) / 1000
}

/**
 * `npm run bench -- replay`: a million events rebuilt three ways, in the same run.
 * - from position 0 into empty tables: what `replay` did before generations (it truncated the
 *   serving tables, then the worker projected the log again), with the live batch size;
 * - beside the serving generation, which keeps answering, then switched to (`replay` now);
 * - the same rows loaded straight into the same tables, as the baseline.
 */
export async function replayBench(runtime: EmbeddedRuntime): Promise<BenchFigure[]> {
  const root = mkdtempSync(join(tmpdir(), 'hourglass-bench-replay-'))
  const log = createEmbeddedLog({ path: join(root, 'log') })
  const logger = pino({ level: 'warn' })
  try {
    say(`appending ${PLAN.events.toLocaleString('en')} events to a log of its own`)
    await appendLog(log)
    const db = await freshDatabase(runtime.warehouse, 'replay_bench')
    const worker = createSingleWriterWorker({
      log: log.telemetry,
      control: log.control,
      warehouse: db,
      projections: [eventsProjection],
      logger,
      batchSize: PLAN.batchSize,
    })
    say('projecting from position 0 into empty tables (the truncate-and-replay path)')
    let started = performance.now()
    await worker.start()
    await worker.caughtUp(eventsProjection.name, await log.telemetry.partitionHeads())
    const fromScratchSeconds = (performance.now() - started) / 1000

    say('rebuilding beside the serving generation, then switching')
    started = performance.now()
    let builtSeconds = 0
    const result = await replayProjection({
      warehouse: db,
      checkpoints: createWarehouseCheckpointStore(db),
      projection: eventsProjection,
      members: () => log.telemetry.groupMembers(EMBEDDED_LOG),
      heads: () => log.telemetry.partitionHeads(),
      starts: () => log.telemetry.partitionStarts(),
      // As often as `hourglass replay` looks (its default).
      pollMs: 250,
      onProgress: ({ committed, target }) => {
        if (committed >= target && builtSeconds === 0) builtSeconds = (performance.now() - started) / 1000
      },
    })
    const rebuildSeconds = (performance.now() - started) / 1000
    await worker.close()

    say('loading the same rows straight into the same tables')
    const direct = await freshDatabase(runtime.warehouse, 'replay_direct')
    const directSeconds = await directLoad(log, direct)
    await direct.run(database('replay_direct', false), {})
    await db.run(database('replay_bench', false), {})

    const rebuildRate = result.committed / rebuildSeconds
    const buildRate = result.committed / builtSeconds
    const fromScratchRate = PLAN.events / fromScratchSeconds
    const directRate = PLAN.events / directSeconds
    const phase = 'replay'
    return [
      { phase, name: 'events rebuilt', value: result.committed, unit: 'records' },
      {
        phase,
        name: 'rebuild beside the serving tables (replay now)',
        value: Math.round(rebuildRate),
        unit: 'records/s',
      },
      {
        phase,
        name: 'building, until caught up (without the switch)',
        value: Math.round(buildRate),
        unit: 'records/s',
      },
      {
        phase,
        name: 'switching and dropping the old generation',
        value: rebuildSeconds - builtSeconds,
        unit: 's',
      },
      {
        phase,
        name: 'truncate-and-replay path (from position 0)',
        value: Math.round(fromScratchRate),
        unit: 'records/s',
      },
      {
        phase,
        name: 'rebuild ÷ truncate-and-replay',
        value: rebuildRate / fromScratchRate,
        unit: '×',
        goal: '≥ 5',
        meets: rebuildRate / fromScratchRate >= 5,
      },
      {
        phase,
        name: 'direct load of the same rows (100k-row inserts)',
        value: Math.round(directRate),
        unit: 'rows/s',
      },
      {
        phase,
        name: 'rebuild ÷ direct load',
        value: rebuildRate / directRate,
        unit: '×',
        goal: '≥ 0.5',
        meets: rebuildRate / directRate >= 0.5,
      },
    ]
  } finally {
    await log.close()
    rmSync(root, { recursive: true, force: true })
  }
}
