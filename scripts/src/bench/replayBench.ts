import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEmbeddedLog, type EmbeddedLog, type NewTelemetryRecord } from '@hourglass/log'
import {
  createSingleWriterWorker,
  createWarehouseCheckpointStore,
  defineQuery,
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
import { z } from 'zod'
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
  /** Records per read of the direct load. */
  directChunk: 1_000,
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

/** CPU time of the whole process (chDB's threads included) since `since`, per event of the plan: what a busy machine's other work does not inflate much. */
const cpuPerRecord = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since)
  return (used.user + used.system) / PLAN.events
}

const say = (line: string) => process.stderr.write(`[bench] replay: ${line}\n`)

async function appendLog(log: EmbeddedLog) {
  for (let from = 0; from < PLAN.events; from += PLAN.appendBatch) {
    const count = Math.min(PLAN.appendBatch, PLAN.events - from)
    await log.telemetry.appendEvents(Array.from({ length: count }, (_, i) => benchEvent(from + i)))
  }
}

/**
 * The fastest load of the same rows straight into the same tables (and views) that we have: the
 * log read 1,000 records at a time, each chunk's rows encoded at once (RowBinary, as the
 * warehouse hands chDB a bulk insert) and let go, an insert every 100,000 rows, written while the
 * next rows are read and encoded.
 */
async function directLoad(log: EmbeddedLog, db: Warehouse) {
  const started = performance.now()
  const encoder = await db.encoder(tables.eventsRaw)
  if (!encoder) throw new Error('the direct load needs an embedded warehouse')
  let writing: Promise<void> = Promise.resolve()
  const send = async () => {
    const rows = encoder.take()
    await writing
    if (rows) writing = db.insertEncoded(tables.eventsRaw, rows)
  }
  for (let from = 0; from < PLAN.events; from += PLAN.directChunk) {
    const rows = (await log.telemetry.readPartition(0, from, PLAN.directChunk)).map(toEventRow)
    if (!encoder.add(rows)) throw new Error('the bench rows cannot be encoded')
    if (encoder.count >= PLAN.directBatch) await send()
  }
  await send()
  await writing
  return (performance.now() - started) / 1000
}

const rebuiltTotals = defineQuery({
  name: 'rebuilt totals',
  params: noParams,
  row: z.object({ raw: z.coerce.number(), rolled: z.coerce.number() }),
  sql: (w) => `SELECT (SELECT count() FROM ${w.table(tables.eventsRaw)}) AS raw,
                      (SELECT sum(events) FROM ${w.table(tables.rollupHourly)}) AS rolled`,
})

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
    let cpu = process.cpuUsage()
    let started = performance.now()
    await worker.start()
    await worker.caughtUp(eventsProjection.name, await log.telemetry.partitionHeads())
    const fromScratchSeconds = (performance.now() - started) / 1000
    const fromScratchCpu = cpuPerRecord(cpu)

    say('rebuilding beside the serving generation, then switching')
    cpu = process.cpuUsage()
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
    const rebuildCpu = cpuPerRecord(cpu)
    await worker.close()
    const [totals] = await db.select(rebuiltTotals, {})
    const exact = totals?.raw === PLAN.events && totals.rolled === PLAN.events

    say('loading the same rows straight into the same tables')
    const direct = await freshDatabase(runtime.warehouse, 'replay_direct')
    cpu = process.cpuUsage()
    const directSeconds = await directLoad(log, direct)
    const directCpu = cpuPerRecord(cpu)
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
        name: 'rebuilt raw rows and rollup total equal the log',
        value: Math.min(totals?.raw ?? 0, totals?.rolled ?? 0),
        unit: 'records',
        goal: `${PLAN.events.toLocaleString('en')} each`,
        meets: exact,
      },
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
        name: 'direct load of the same rows (encoded as read, pipelined)',
        value: Math.round(directRate),
        unit: 'rows/s',
      },
      { phase, name: 'CPU per record: rebuild, with the switch', value: rebuildCpu, unit: 'µs' },
      { phase, name: 'CPU per record: truncate-and-replay path', value: fromScratchCpu, unit: 'µs' },
      { phase, name: 'CPU per row: direct load', value: directCpu, unit: 'µs' },
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
