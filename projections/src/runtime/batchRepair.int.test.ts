import { spawn } from 'node:child_process'
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createEmbeddedLog, type NewTelemetryRecord, type TelemetryRecord } from '@hourglass/log'
import { TELEMETRY_EVENT, TelemetryEvent, telemetryStream } from '@hourglass/schemas'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { migrateWarehouse } from '../migrations.ts'
import { tables } from '../tables.ts'
import { firstHour, purchaseDefined } from '../testing/workerFixtures.ts'
import { defineQuery, noParams } from '../warehouse/namedStatements.ts'
import { openWarehouse } from '../warehouse/warehouse.ts'
import { recomputeViewsOf } from './batchRepair.ts'

/**
 * A plain MergeTree records an insert's deduplication token before the insert's part is in
 * place. A worker killed between the two leaves the token and loses the part; a rewrite under
 * the same token is then dropped as a duplicate. The window is too narrow to hit on purpose, so
 * this test makes that state: a worker writes the whole log and leaves its last batch pending,
 * the test deletes that batch's parts from disk while no process holds the warehouse, and a
 * second worker repairs the batch. The answers must equal counts taken from the log.
 */

const EVENTS = 1_999
const BATCH_SIZE = 250
const HOUR = 3600_000
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))
const workerScript = fileURLToPath(new URL('../testing/lostPartWorker.ts', import.meta.url))

const ACCOUNT = 'acct-shop'
const SOURCES = ['src-web', 'src-app']
const NAMES = ['app_open', 'purchase', 'product_view']

/** Deterministic, varied events: three names, six hours, forty subjects. */
function events(): NewTelemetryRecord[] {
  return Array.from({ length: EVENTS }, (_, i) => {
    const sourceId = SOURCES[i % SOURCES.length]!
    const name = NAMES[(i * 7) % NAMES.length]!
    const event: TelemetryEvent = {
      id: `evt-${i}`,
      accountId: ACCOUNT,
      sourceId,
      name,
      timestamp: firstHour + ((i * 7919) % (6 * HOUR)),
      receivedAt: firstHour + 6 * HOUR,
      attrs: { sku: `sku-${i % 5}`, quantity: 1 + (i % 4) },
      ...(i % 9 === 0 ? {} : { subject: `user-${i % 40}` }),
    }
    return { stream: telemetryStream(sourceId), id: event.id, type: TELEMETRY_EVENT, data: event }
  })
}

const Answers = z.object({
  raw: z.object({ rows: z.number(), positions: z.number() }),
  rollup: z.array(z.tuple([z.string(), z.number(), z.number()])),
  userStatsHourly: z.array(z.tuple([z.string(), z.number(), z.number()])),
  userStatsTotal: z.array(z.tuple([z.string(), z.number(), z.number()])),
})
type Answers = z.infer<typeof Answers>

const WrittenBatch = z.object({
  from: z.number(),
  to: z.number(),
  lastParts: z.record(z.string(), z.string()),
})

function runWorker(logPath: string, warehousePath: string, stage: 'write' | 'finish'): Promise<string> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', workerScript, logPath, warehousePath, String(BATCH_SIZE), stage],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
  })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-8_000)
  })
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`worker ${stage} exited ${code}\n${stderr}`)),
    )
  })
}

/** What the log says the answers are. */
function expectedAnswers(records: readonly TelemetryRecord[]): Answers {
  const rollup = new Map<string, { events: number; subjects: Set<string> }>()
  const hourly = new Map<string, { amount: number; events: number }>()
  const total = new Map<string, { amount: number; events: number }>()
  const add = (map: Map<string, { amount: number; events: number }>, key: string, amount: number) => {
    const cell = map.get(key) ?? { amount: 0, events: 0 }
    cell.amount += amount
    cell.events++
    map.set(key, cell)
  }
  let rows = 0
  for (const record of records) {
    if (record.type !== TELEMETRY_EVENT) continue
    rows++
    const event = TelemetryEvent.parse(record.data)
    const hour = Math.floor(event.timestamp / HOUR) * 3600
    const key = `${event.sourceId} ${hour} ${event.name}`
    const cell = rollup.get(key) ?? { events: 0, subjects: new Set<string>() }
    cell.events++
    if (event.subject) cell.subjects.add(event.subject)
    rollup.set(key, cell)
    // Only src-web's `purchase` is defined (at position 0): its sku is the key, its quantity the amount.
    if (event.sourceId === 'src-web' && event.name === 'purchase' && event.subject) {
      const statKey = `${event.sourceId} ${event.subject} ${event.attrs.sku}`
      add(hourly, `${statKey} ${hour}`, Number(event.attrs.quantity))
      add(total, statKey, Number(event.attrs.quantity))
    }
  }
  type Row = [string, number, number]
  const sorted = (entries: Row[]) => entries.sort(([a], [b]) => (a < b ? -1 : 1))
  return {
    raw: { rows, positions: rows },
    rollup: sorted([...rollup].map(([key, cell]): Row => [key, cell.events, cell.subjects.size])),
    userStatsHourly: sorted([...hourly].map(([key, cell]): Row => [key, cell.amount, cell.events])),
    userStatsTotal: sorted([...total].map(([key, cell]): Row => [key, cell.amount, cell.events])),
  }
}

const root = mkdtempSync(join(tmpdir(), 'hourglass-lost-part-'))
const logPath = join(root, 'log')
const pristine = join(root, 'pristine')
let written: z.infer<typeof WrittenBatch>
let records: TelemetryRecord[] = []

beforeAll(async () => {
  const log = createEmbeddedLog({ path: logPath })
  const defined = await log.control.appendToStream(
    'trackingplan-src-web',
    [purchaseDefined('src-web', ACCOUNT)],
    'no-stream',
  )
  expect(defined.status).toBe('appended')
  await log.telemetry.appendEvents(events())
  records = await log.telemetry.readPartition(0, 0, EVENTS + 1)
  await log.close()
  written = WrittenBatch.parse(JSON.parse(await runWorker(logPath, pristine, 'write')))
}, 120_000)

afterAll(() => rmSync(root, { recursive: true, force: true }))

/** Copies the warehouse as the first worker left it, deletes the last parts of `lost`, and repairs. */
async function repairAfterLosing(lost: readonly string[]): Promise<Answers> {
  const warehousePath = join(root, lost.join('+'))
  cpSync(pristine, warehousePath, { recursive: true })
  for (const table of lost) {
    const part = written.lastParts[table]
    expect(part, `a part of ${table} written by the last batch`).toBeDefined()
    rmSync(part!.replace(pristine, warehousePath), { recursive: true })
  }
  const lines = (await runWorker(logPath, warehousePath, 'finish')).trim().split('\n')
  return Answers.parse(JSON.parse(lines[lines.length - 1]!))
}

describe('a batch whose parts were lost after its deduplication tokens were recorded', () => {
  it('leaves the last batch pending, with parts of its own in every table it wrote', () => {
    // The last batch: the records after the one before it, up to the head.
    expect(written.to).toBe(EVENTS + 1)
    expect(written.to - written.from).toBeLessThanOrEqual(BATCH_SIZE)
    expect(written.to - written.from).toBeGreaterThan(0)
    for (const table of [
      tables.eventsRaw,
      tables.rollupHourly,
      tables.userStatsHourly,
      tables.userStatsTotal,
    ]) {
      expect(Object.keys(written.lastParts)).toContain(table)
    }
  })

  it('is written again where the tables written directly lost it, and views are not counted twice', async () => {
    expect(await repairAfterLosing([tables.eventsRaw, tables.userStatsHourly])).toEqual(
      expectedAnswers(records),
    )
  }, 120_000)

  it('is recomputed where only the tables fed by materialized views lost it', async () => {
    expect(await repairAfterLosing([tables.rollupHourly, tables.userStatsTotal])).toEqual(
      expectedAnswers(records),
    )
  }, 120_000)
})

describe('recomputing the views of a batch in doubt', () => {
  it('covers every materialized view of the schema, each from the table it reads', async () => {
    // This process holds no other warehouse: the workers above run in their own.
    const warehouse = await openWarehouse({ database: 'views', embeddedPath: join(root, 'views') })
    try {
      await migrateWarehouse(warehouse)
      const written = [
        tables.eventsRaw,
        tables.eventDefinitions,
        tables.userStatsHourly,
        tables.storeEvents,
        tables.storeErasures,
        tables.receiptsRaw,
        tables.receiptRuns,
        tables.deviceReadingsRaw,
      ]
      const recomputed = await recomputeViewsOf(warehouse, written, { from: 0, to: 1_000 })
      const views = await warehouse.select(
        defineQuery({
          name: 'views',
          params: noParams,
          row: z.object({ name: z.string() }),
          sql: () =>
            `SELECT name FROM system.tables WHERE database = 'views' AND engine = 'MaterializedView'`,
        }),
        {},
      )
      expect(recomputed.sort()).toEqual(views.map((view) => view.name).sort())
      expect(recomputed.length).toBeGreaterThanOrEqual(8)
    } finally {
      await warehouse.close()
    }
  })
})
