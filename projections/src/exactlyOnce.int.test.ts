import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createEmbeddedLog, type NewTelemetryRecord, type TelemetryRecord } from '@hourglass/log'
import { TELEMETRY_EVENT, TelemetryEvent, telemetryStream } from '@hourglass/schemas'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventsProjection } from './eventsProjection.ts'
import { projectionKey } from './projection.ts'
import { createWarehouseCheckpointStore } from './runtime/checkpointStore.ts'
import { seededRandom } from './seededRandom.ts'
import { tables } from './tables.ts'
import { openWarehouse, type Warehouse } from './warehouse/warehouse.ts'

/**
 * The crash test behind "never double-counted": a projection worker, a child process, is
 * killed with SIGKILL at random points (during chDB start-up, while it recovers its pending
 * batch, and mostly in the middle of batches) and restarted each time. Once a last run has
 * caught up, the hourly rollups must equal counts taken straight from the log's records.
 *
 * Kill timing comes from a seeded PRNG; the seed is printed, and EXACTLY_ONCE_SEED=<seed>
 * replays the same plan (the kills still land wherever the scheduler puts them).
 */

const EVENTS = 50_000
/** Small batches: many batches, so many windows between a batch's writes to be killed in. */
const BATCH_SIZE = 250
const MIN_KILLS = 20
const MIN_KILLS_MID_PROJECTION = 10
/** More kills than required: each is another chance to land in a narrow window. */
const WANTED_KILLS = 30
const WANTED_KILLS_MID_PROJECTION = 20
const MAX_ATTEMPTS = 60
/** A run that takes this long is stuck, not slow (a whole run takes about 10 s). */
const STUCK_RUN_MS = 90_000
const DATABASE = 'hourglass'
const HOUR = 3600_000

const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
const workerScript = fileURLToPath(new URL('./testing/projectionWorker.ts', import.meta.url))

const seed = Number(process.env.EXACTLY_ONCE_SEED ?? Math.floor(Math.random() * 2 ** 31))
const random = seededRandom(seed)
const between = (min: number, max: number) => min + Math.floor(random() * (max - min + 1))
const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!

// ---------------------------------------------------------------------------------------------
// Given: a log of telemetry as ingest writes it.

interface Source {
  readonly accountId: string
  readonly sourceId: string
}

const sources: readonly Source[] = [
  { accountId: 'acct-shop', sourceId: 'src-web-shop' },
  { accountId: 'acct-shop', sourceId: 'src-mobile-app' },
  { accountId: 'acct-shop', sourceId: 'src-pos-terminal' },
  { accountId: 'acct-fleet', sourceId: 'src-sensors' },
  { accountId: 'acct-fleet', sourceId: 'src-gateways' },
  { accountId: 'acct-venue', sourceId: 'src-doors' },
  { accountId: 'acct-venue', sourceId: 'src-kiosk' },
]
const eventNames = ['app_open', 'product_view', 'add_to_cart', 'purchase', 'sensor_reading', 'door_open']
const firstHour = Date.UTC(2026, 9, 1)
/** Arrival spans four days of event time; late events reach back further. */
const SPAN_MS = 96 * HOUR

/** One event as ingest's validateEvents stamps it for the log. */
const telemetryRecord = (source: Source, event: TelemetryEvent): NewTelemetryRecord => ({
  stream: telemetryStream(source.sourceId),
  id: event.id,
  type: TELEMETRY_EVENT,
  data: event,
})

/**
 * Producer requests (one source each, 1 to 1,000 events), 50,000 distinct events in all.
 * Event times mostly follow arrival with jitter; some are hours late, some days late.
 * Some requests are sent again whole (a producer retrying after a lost answer) and some
 * events repeat inside a request: the log must report those as duplicates.
 */
function producerRequests(): { requests: NewTelemetryRecord[][]; resent: number } {
  const requests: NewTelemetryRecord[][] = []
  let made = 0
  let resent = 0
  while (made < EVENTS) {
    const source = pick(sources)
    const size = Math.min(EVENTS - made, between(1, 1000))
    const request: NewTelemetryRecord[] = []
    for (let i = 0; i < size; i++, made++) {
      const arrival = firstHour + Math.floor((made / EVENTS) * SPAN_MS)
      const lateness = random()
      const timestamp =
        lateness < 0.8
          ? arrival + between(-600_000, 600_000)
          : lateness < 0.95
            ? arrival - between(1, 12) * HOUR - between(0, HOUR)
            : arrival - between(1, 5) * 24 * HOUR - between(0, HOUR)
      // Producer-chosen ids or opaque ones; the sequence number keeps them distinct.
      const id =
        random() < 0.7
          ? `${source.sourceId}-evt-${made}`
          : `${random().toString(36).slice(2, 10)}-${made.toString(36)}`
      const subject = random() < 0.9 ? `${source.accountId}-user-${between(1, 400)}` : undefined
      const event: TelemetryEvent = {
        id,
        accountId: source.accountId,
        sourceId: source.sourceId,
        name: pick(eventNames),
        timestamp,
        receivedAt: arrival + between(0, 5_000),
        attrs: { sequence: made, price: between(0, 10_000) / 100, promo: random() < 0.1 },
        ...(subject === undefined ? {} : { subject }),
        ...(random() < 0.3 ? { session: `session-${between(1, 2_000)}` } : {}),
      }
      request.push(telemetryRecord(source, event))
      if (random() < 0.002) {
        request.push(request[between(0, request.length - 1)]!)
        resent++
      }
    }
    requests.push(request)
    if (random() < 0.03) {
      requests.push(request)
      resent += request.length
    }
  }
  return { requests, resent }
}

// ---------------------------------------------------------------------------------------------
// When: the worker is killed again and again, then left to finish.

type Phase = 'start-up' | 'recovery' | 'projecting' | 'caught-up'

interface WorkerRun {
  /** Where the worker stood when the kill was sent (or when it exited on its own). */
  readonly phase: Phase
  readonly killed: boolean
  readonly exitCode: number | null
  readonly signal: NodeJS.Signals | null
  /** Batches the worker reported applied. */
  readonly batchesApplied: number
  /** Start of the first batch it reported applied, if any. */
  readonly firstAppliedFrom: number | null
  /** End of the last batch it reported applied. */
  readonly appliedTo: number
  readonly readyAfterMs: number | null
  readonly stderr: string
}

/** When to kill a run: a delay after spawning, or a delay after the n-th batch it applies. */
type KillPlan =
  | { readonly at: 'start-up'; readonly afterMs: number }
  | { readonly at: 'batch'; readonly afterBatches: number; readonly afterMs: number }
  | { readonly at: 'never' }

let running: ChildProcess | null = null

function runWorker(logPath: string, warehousePath: string, plan: KillPlan): Promise<WorkerRun> {
  const started = Date.now()
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', workerScript, logPath, warehousePath, String(BATCH_SIZE)],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  running = child
  let phase: Phase = 'start-up'
  let phaseAtKill: Phase | null = null
  let batchesApplied = 0
  let firstAppliedFrom: number | null = null
  let appliedTo = 0
  let readyAfterMs: number | null = null
  let stderr = ''
  const timers: NodeJS.Timeout[] = []

  const kill = () => {
    if (phaseAtKill !== null || child.exitCode !== null || child.signalCode !== null) return
    phaseAtKill = phase
    child.kill('SIGKILL')
  }
  const killAfter = (ms: number) => {
    if (ms === 0) kill()
    else timers.push(setTimeout(kill, ms))
  }

  if (plan.at === 'start-up') killAfter(plan.afterMs)
  timers.push(setTimeout(kill, STUCK_RUN_MS))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-8_000)
  })
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const [what, from, to] = line.split(' ')
    if (what === 'ready') {
      phase = 'recovery'
      readyAfterMs = Date.now() - started
    } else if (what === 'applied') {
      phase = 'projecting'
      batchesApplied++
      firstAppliedFrom ??= Number(from)
      appliedTo = Number(to)
      if (plan.at === 'batch' && batchesApplied === plan.afterBatches) killAfter(plan.afterMs)
    } else if (what === 'caught-up') {
      phase = 'caught-up'
    }
  })

  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (exitCode, signal) => {
      for (const timer of timers) clearTimeout(timer)
      running = null
      resolve({
        phase: phaseAtKill ?? phase,
        killed: signal === 'SIGKILL',
        exitCode,
        signal,
        batchesApplied,
        firstAppliedFrom,
        appliedTo,
        readyAfterMs,
        stderr,
      })
    })
  })
}

const describeRun = (run: WorkerRun) =>
  `exit code ${run.exitCode}, signal ${run.signal}, phase ${run.phase}, ${run.batchesApplied} batches applied\n${run.stderr}`

// ---------------------------------------------------------------------------------------------

const root = mkdtempSync(join(tmpdir(), 'hourglass-exactly-once-'))
const logPath = join(root, 'log')
const warehousePath = join(root, 'warehouse')
const kills: WorkerRun[] = []
let finalRun: WorkerRun
let resent = 0
let rewrittenBatches = 0
let duplicatesReported = 0
let sent: NewTelemetryRecord[] = []
const records: TelemetryRecord[] = []
let warehouse: Warehouse | null = null

beforeAll(async () => {
  console.info(`exactly-once crash test: seed ${seed} (EXACTLY_ONCE_SEED=${seed} replays this plan)`)

  const writer = createEmbeddedLog({ path: logPath })
  const generated = producerRequests()
  resent = generated.resent
  for (const request of generated.requests) {
    for (const outcome of await writer.telemetry.appendEvents(request)) {
      if (outcome.status === 'duplicate') duplicatesReported++
    }
  }
  const unique = new Map<string, NewTelemetryRecord>()
  for (const record of generated.requests.flat()) {
    const key = `${record.stream}\u0000${record.id}`
    if (!unique.has(key)) unique.set(key, record)
  }
  sent = [...unique.values()]
  // Workers open the log themselves; this process holds nothing open while they are killed.
  await writer.close()

  let typicalReadyMs = 1_000
  let appliedSoFar = 0
  let attempts = 0
  /** A run that starts by applying a batch an earlier run had finished inserting relies on the repair. */
  const noteRewrite = (run: WorkerRun) => {
    if (run.firstAppliedFrom !== null && run.firstAppliedFrom < appliedSoFar) rewrittenBatches++
    appliedSoFar = Math.max(appliedSoFar, run.appliedTo)
  }
  for (; attempts < MAX_ATTEMPTS; attempts++) {
    const midProjection = kills.filter((run) => run.phase === 'projecting').length
    if (kills.length >= WANTED_KILLS && midProjection >= WANTED_KILLS_MID_PROJECTION) break
    // Keep enough of the log unprojected that a kill can still land mid-batch.
    if (EVENTS - appliedSoFar < 10 * BATCH_SIZE) break
    const plan: KillPlan =
      random() < 0.25 || midProjection >= WANTED_KILLS_MID_PROJECTION
        ? { at: 'start-up', afterMs: between(0, Math.round(typicalReadyMs * 1.3)) }
        : // A batch (checkpoint insert, events insert, rollup view) takes tens of milliseconds.
          // An immediate kill tends to land between a batch's inserts and its checkpoint.
          { at: 'batch', afterBatches: between(1, 6), afterMs: random() < 0.3 ? 0 : between(1, 60) }
    const run = await runWorker(logPath, warehousePath, plan)
    if (run.readyAfterMs !== null) typicalReadyMs = run.readyAfterMs
    noteRewrite(run)
    if (run.killed) kills.push(run)
    else if (run.exitCode !== 0) throw new Error(`worker failed on its own: ${describeRun(run)}`)
  }
  finalRun = await runWorker(logPath, warehousePath, { at: 'never' })
  noteRewrite(finalRun)

  const byPhase = new Map<Phase, number>()
  for (const run of kills) byPhase.set(run.phase, (byPhase.get(run.phase) ?? 0) + 1)
  console.info(
    `exactly-once crash test: ${kills.length} kills (${[...byPhase]
      .map(([phase, count]) => `${count} in ${phase}`)
      .join(', ')}) in ${attempts + 1} runs; ${rewrittenBatches} batches written again after a kill; ` +
      `mid-projection kills after positions ${kills
        .filter((run) => run.phase === 'projecting')
        .map((run) => run.appliedTo)
        .join(' ')}`,
  )

  const reader = createEmbeddedLog({ path: logPath })
  for (let page = await reader.telemetry.readPartition(0, 0, 5_000); page.length > 0; ) {
    records.push(...page)
    page = await reader.telemetry.readPartition(0, page[page.length - 1]!.position + 1, 5_000)
  }
  await reader.close()
  warehouse = await openWarehouse({ database: DATABASE, embeddedPath: warehousePath })
}, 240_000)

afterAll(async () => {
  running?.kill('SIGKILL')
  await warehouse?.close()
  rmSync(root, { recursive: true, force: true })
})

// ---------------------------------------------------------------------------------------------
// Then

const rows = async <T>(query: string): Promise<T[]> =>
  (await (await warehouse!.client.query({ query, format: 'JSONEachRow' })).json()) as T[]

describe('a projection worker killed with SIGKILL at random points', () => {
  it('was killed often, mostly in the middle of projecting, and then finished on its own', () => {
    expect(finalRun.exitCode, describeRun(finalRun)).toBe(0)
    expect(kills.length).toBeGreaterThanOrEqual(MIN_KILLS)
    expect(kills.filter((run) => run.phase === 'projecting').length).toBeGreaterThanOrEqual(
      MIN_KILLS_MID_PROJECTION,
    )
    expect(kills.some((run) => run.phase === 'start-up')).toBe(true)
    // Some kills fell between a batch's inserts and its checkpoint, so the repair was put to work.
    expect(rewrittenBatches).toBeGreaterThan(0)
  })

  it('left the log as ingest wrote it: every distinct event once, re-sent ids reported as duplicates', () => {
    expect(duplicatesReported).toBe(resent)
    expect(records).toHaveLength(EVENTS)
    expect(records.map((record) => record.position)).toEqual(records.map((_, index) => index))
    expect(records.map(({ stream, id, type, data }) => ({ stream, id, type, data }))).toEqual(sent)
  })

  it('ends with hourly rollups equal to the counts in the log, exactly', async () => {
    const expected = new Map<string, { events: number; subjects: Set<string> }>()
    for (const record of records) {
      const event = TelemetryEvent.parse(record.data)
      const hour = Math.floor(event.timestamp / HOUR) * HOUR
      const key = [event.accountId, event.sourceId, new Date(hour).toISOString(), event.name].join(' ')
      const cell = expected.get(key) ?? { events: 0, subjects: new Set<string>() }
      cell.events++
      if (event.subject) cell.subjects.add(event.subject)
      expected.set(key, cell)
    }
    const rollups = await rows<{
      account_id: string
      source_id: string
      hour_start: string | number
      name: string
      events: string | number
      subjects: string | number
    }>(`SELECT account_id, source_id, toUnixTimestamp(hour) AS hour_start, name,
               sum(events) AS events, uniqExactMerge(subjects) AS subjects
        FROM ${warehouse!.table(tables.rollupHourly)}
        GROUP BY account_id, source_id, hour, name`)
    const actual = new Map(
      rollups.map((row) => [
        [row.account_id, row.source_id, new Date(Number(row.hour_start) * 1000).toISOString(), row.name].join(
          ' ',
        ),
        { events: Number(row.events), subjects: Number(row.subjects) },
      ]),
    )
    const mismatches: string[] = []
    for (const key of new Set([...expected.keys(), ...actual.keys()])) {
      const want = expected.get(key)
      const got = actual.get(key)
      if (want?.events !== got?.events || want?.subjects.size !== got?.subjects) {
        mismatches.push(
          `${key}: log has ${want?.events ?? 0} events / ${want?.subjects.size ?? 0} subjects, ` +
            `rollup has ${got?.events ?? 0} / ${got?.subjects ?? 0}`,
        )
      }
    }
    expect(mismatches.slice(0, 20), `${mismatches.length} hours differ`).toEqual([])
    expect(expected.size).toBeGreaterThan(1_000)
  })

  it('holds every log record exactly once in events_raw, and a checkpoint at the head', async () => {
    // chDB answers 64-bit integers as JSON numbers, a ClickHouse server as strings.
    const [raw] = await rows<Record<string, string | number>>(
      `SELECT count() AS events, uniqExact(position) AS positions, min(position) AS first, max(position) AS last
       FROM ${warehouse!.table(tables.eventsRaw)}`,
    )
    expect(Object.fromEntries(Object.entries(raw!).map(([name, value]) => [name, Number(value)]))).toEqual({
      events: EVENTS,
      positions: EVENTS,
      first: 0,
      last: EVENTS - 1,
    })
    const checkpoint = await createWarehouseCheckpointStore(warehouse!).load(
      projectionKey(eventsProjection),
      0,
    )
    expect(checkpoint).toMatchObject({ committed: EVENTS, pending: null })
  })
})
