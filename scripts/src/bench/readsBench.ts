import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { loadEmbeddedConfig } from '@hourglass/control'
import {
  deviceSummaryParams,
  deviceSummaryQueries,
  eventsPageQuery,
  hourlyRollupQuery,
  latestEventsCountedQuery,
  type NamedQuery,
  receiptCategoriesQuery,
  receiptHoursQuery,
  receiptPlacesQuery,
  receiptPlaceTotalsQuery,
  userStatsTotalQuery,
} from '@hourglass/query'
import { Session } from 'chdb'
import { pino } from 'pino'
import type { z } from 'zod'
import { type EmbeddedRuntime, startEmbedded } from '../embeddedRuntime.ts'
import { inParallel } from './loopbackClient.ts'
import {
  meterPhase,
  type PhaseUsage,
  percentile,
  probeWarehouse,
  sampleRss,
  type WarehouseProbe,
} from './measures.ts'
import { createEventFactory } from './producerEvents.ts'
import { createProducerPool, type ProducerPool } from './producerPool.ts'
import { createReaderPool, type ReaderPool } from './readerPool.ts'
import { EYE_RARE_CATEGORY, loadReadsDataset, READS_DATA, type ReadsDataset } from './readsDataset.ts'
import { table } from './report.ts'

/** Sizes of each measurement: a few seconds per route and reader count. */
const PLAN = {
  warmupReads: 20,
  /** Reads per measurement, and the time after which no more are started. */
  reads: 300,
  budgetMs: 8_000,
  readers: [1, 8],
  /** At most `maxInFlight` batches unanswered: past it the pacer waits (the rate achieved is reported). */
  ingest: { eventsPerSecond: 10_000, batchSize: 100, rampMs: 3_000, maxInFlight: 64 },
} as const

const GOALS = {
  rollupP99Ms: 20,
  eyeP50Ms8: 20,
  httpOverDirect: 1.5,
  ingestOverQuiet: 2,
} as const

const note = (message: string) => process.stderr.write(`[bench reads] ${message}\n`)

/** A statement as chDB runs it straight: the named query's SQL and its parsed parameters. */
interface DirectStatement {
  readonly sql: string
  readonly params: Record<string, unknown>
}

/** One read route: its request, and the statements it runs on the warehouse, to run directly. */
interface ReadRoute {
  readonly name: string
  readonly path: string
  readonly token: string
  readonly direct: readonly DirectStatement[]
}

interface Latency {
  readonly p50: number
  readonly p99: number
  readonly reads: number
  readonly failures: number
}

/** Where an HTTP read's time went: its statements on chDB, per read measured. */
interface Breakdown {
  /** Statements on the route's tables per read: 0 when every read was answered from the cache. */
  readonly statementsPerRead: number
  /** Time in those statements per read, in ms (the chDB round trip, waiting for the connection included). */
  readonly chdbMsPerRead: number
}

/** The tables a route's statements read: what its statements on the warehouse are told apart by. */
const tablesOf = (route: ReadRoute) =>
  new Set(route.direct.map((s) => `select ${/\b(?:FROM|INTO|TABLE)\s+([\w.]+)/i.exec(s.sql)?.[1] ?? ''}`))

/** `measure`, with the statements it ran on the route's tables, per read. */
async function withBreakdown(
  probe: WarehouseProbe,
  route: ReadRoute,
  measure: () => Promise<Latency>,
): Promise<Latency & Breakdown> {
  const tables = tablesOf(route)
  const tally = () => {
    let statements = 0
    let ms = 0
    for (const [key, t] of probe.snapshot())
      if (tables.has(key)) {
        statements += t.statements
        ms += t.ms
      }
    return { statements, ms }
  }
  const before = tally()
  const latency = await measure()
  const after = tally()
  // The warm-up reads ran too: they count among the reads.
  const reads = latency.reads + PLAN.warmupReads
  return {
    ...latency,
    statementsPerRead: (after.statements - before.statements) / reads,
    chdbMsPerRead: (after.ms - before.ms) / reads,
  }
}

/** The main thread's event-loop delay over a phase: how long a ready read waited for other work. */
function loopDelay() {
  const histogram = monitorEventLoopDelay({ resolution: 5 })
  histogram.enable()
  return {
    stop() {
      histogram.disable()
      return { p50: histogram.percentile(50) / 1e6, p99: histogram.percentile(99) / 1e6 }
    },
  }
}

function readRoutes(runtime: EmbeddedRuntime, data: ReadsDataset): ReadRoute[] {
  const reader = { table: (name: string) => runtime.warehouse.table(name) }
  const statement = <P extends z.ZodType, R extends z.ZodType>(
    query: NamedQuery<P, R>,
    params: z.input<P>,
  ): DirectStatement => ({
    sql: query.sql(reader as never),
    params: query.params.parse(params) as Record<string, unknown>,
  })
  const { app, eye, receipts, device, stats } = data
  const month = { from: data.now - READS_DATA.appDays * 24 * 3600_000, to: data.now }
  const appScope = { accountId: app.accountId, sourceId: app.sourceId }
  const eyeFilter = (category: string, session: string) => ({
    accountId: eye.accountId,
    sourceId: eye.sourceId,
    category,
    session,
    name: '',
    since: 0,
  })
  const eyeList = (category: string, session: string) => [
    statement(latestEventsCountedQuery, { ...eyeFilter(category, session), offset: 0, limit: 1000 }),
  ]
  const receiptScope = {
    accountId: receipts.accountId,
    sourceId: receipts.sourceId,
    placeId: receipts.place,
    from: data.now - (READS_DATA.receiptDays + 1) * 24 * 3600_000,
    to: data.now + 24 * 3600_000,
  }
  const year = { from: device.from, to: device.to }
  return [
    {
      name: `hourly rollup, ${READS_DATA.appDays} days`,
      path: `/v1/sources/${app.sourceId}/rollups/hourly?from=${month.from}&to=${month.to}`,
      token: app.token,
      direct: [statement(hourlyRollupQuery, { ...appScope, ...month, name: '' })],
    },
    {
      name: 'raw events, a page of 100',
      path: `/v1/sources/${app.sourceId}/events?from=${month.from}&to=${month.to}&limit=100`,
      token: app.token,
      direct: [
        statement(eventsPageQuery, {
          ...appScope,
          ...month,
          name: '',
          afterTs: month.from - 1,
          afterPosition: 0,
          limit: 101,
        }),
      ],
    },
    {
      name: `The Eye by category (${eye.rareEvents} events)`,
      path: `/compat/the-eye/events/?category=${encodeURIComponent(EYE_RARE_CATEGORY)}&page_size=1000`,
      token: eye.token,
      direct: eyeList(EYE_RARE_CATEGORY, ''),
    },
    {
      name: `The Eye by session (${eye.sessionEvents} events)`,
      path: `/compat/the-eye/events/?session_id=${eye.session}&page_size=1000`,
      token: eye.token,
      direct: eyeList('', eye.session),
    },
    {
      name: 'receipts analytics, one place, 30 days',
      path: `/v1/receipts/analytics?source=${receipts.sourceId}&place=${receipts.place}&from=${receiptScope.from}&to=${receiptScope.to}`,
      token: receipts.token,
      direct: [
        statement(receiptHoursQuery, receiptScope),
        statement(receiptPlaceTotalsQuery, receiptScope),
        statement(receiptCategoriesQuery, receiptScope),
        statement(receiptPlacesQuery, receiptScope),
      ],
    },
    {
      name: 'device summary, a year',
      path: `/v1/sources/${device.sourceId}/devices/${device.deviceId}/summary?from=${year.from}&to=${year.to}`,
      token: device.token,
      direct: [
        statement(
          deviceSummaryQueries.device,
          deviceSummaryParams(device, { kind: 'device', deviceId: device.deviceId }, year),
        ),
      ],
    },
    {
      name: 'per-user statistics (Metrica)',
      path: `/compat/metrica/${stats.sourceId}/${stats.eventCode}`,
      token: stats.jwt,
      direct: [
        statement(userStatsTotalQuery, {
          accountId: stats.accountId,
          sourceId: stats.sourceId,
          name: stats.name,
          after: '',
          limit: 1_000_000,
        }),
      ],
    },
  ]
}

const latencyOf = (samples: readonly number[], failures: number): Latency => ({
  p50: percentile(samples, 50),
  p99: percentile(samples, 99),
  reads: samples.length,
  failures,
})

/** `readers` clients, each reading again once answered, until `PLAN.reads` reads or the budget. */
async function timedReads(readers: number, read: () => Promise<boolean>): Promise<Latency> {
  for (let i = 0; i < PLAN.warmupReads; i++) await read()
  const samples: number[] = []
  let failures = 0
  const until = performance.now() + PLAN.budgetMs
  await inParallel(PLAN.reads, readers, async () => {
    if (performance.now() > until) return
    const startedAt = performance.now()
    const ok = await read()
    samples.push(performance.now() - startedAt)
    if (!ok) failures++
  })
  return latencyOf(samples, failures)
}

/** The same closed loop over HTTP, run by the readers' process (see readerPool.ts). */
async function httpReads(pool: ReaderPool, route: ReadRoute, readers: number): Promise<Latency> {
  const { samples, failures } = await pool.run({
    path: route.path,
    token: route.token,
    readers,
    warmup: PLAN.warmupReads,
    reads: PLAN.reads,
    budgetMs: PLAN.budgetMs,
  })
  return latencyOf(samples, failures)
}

/** The route's statements, straight on chDB: bound parameters, results left as bytes. */
const directRead = (session: Session, route: ReadRoute) => async () => {
  await Promise.all(
    route.direct.map((s) => session.queryBindAsync(s.sql, s.params, { format: 'JSONEachRow' })),
  )
  return true
}

interface IngestLoad {
  stop(): Promise<{ rate: number; failures: number }>
}

/** Open-loop ingest into the app source: a batch of 100 events due every 10 ms, answered or not (up to a bound). */
function startIngest(producers: ProducerPool, data: ReadsDataset): IngestLoad {
  const { eventsPerSecond, batchSize } = PLAN.ingest
  const events = createEventFactory('reads-live', 11)
  const source = { accountId: data.app.accountId, sourceId: data.app.sourceId, apiToken: data.app.apiToken }
  const intervalMs = (batchSize / eventsPerSecond) * 1000
  const startedAt = performance.now()
  let sent = 0
  let acknowledged = 0
  let failures = 0
  const inFlight = new Set<Promise<void>>()
  const timer = setInterval(() => {
    const due = Math.floor((performance.now() - startedAt) / intervalMs)
    for (; sent < due && inFlight.size < PLAN.ingest.maxInFlight; sent++) {
      const answer = producers
        .post(source, { events, from: sent * batchSize, count: batchSize, times: { kind: 'at-send' } })
        .then((a) => {
          if (a.status === 200) acknowledged += batchSize
          else failures++
        })
      inFlight.add(answer)
      answer.finally(() => inFlight.delete(answer))
    }
  }, intervalMs)
  return {
    async stop() {
      clearInterval(timer)
      const seconds = (performance.now() - startedAt) / 1000
      await Promise.all(inFlight)
      return { rate: acknowledged / seconds, failures }
    },
  }
}

interface RouteFigures {
  readonly route: ReadRoute
  readonly readers: number
  readonly http: Latency & Breakdown
  readonly direct: Latency
  readonly loaded: Latency & Breakdown
}

type LoopDelay = ReturnType<ReturnType<typeof loopDelay>['stop']>

const ms = (value: number) =>
  !Number.isFinite(value) ? 'n/a' : value >= 100 ? value.toFixed(0) : value.toFixed(1)
const times = (value: number) =>
  Number.isFinite(value) ? `${(Math.floor(value * 100) / 100).toFixed(2)}×` : 'n/a'
const mark = (meets: boolean) => (meets ? '✓' : '✗')

function usageRow(name: string, usage: PhaseUsage, delay: LoopDelay) {
  return [
    name,
    `${(usage.wallMs / 1000).toFixed(1)} s`,
    usage.cores.toFixed(2),
    Number.isFinite(usage.producerCores) ? usage.producerCores.toFixed(2) : '?',
    Number.isFinite(usage.otherCores) ? usage.otherCores.toFixed(2) : '?',
    `${Math.round(usage.eventLoopBusy * 100)} %`,
    `${ms(delay.p50)} / ${ms(delay.p99)}`,
  ]
}

function printReads(
  figures: readonly RouteFigures[],
  usage: { quiet: PhaseUsage; loaded: PhaseUsage },
  delay: { quiet: LoopDelay; loaded: LoopDelay },
  ingest: { rate: number; failures: number },
) {
  const out: string[] = ['', '== reads ==', '']
  out.push(
    'Each read route over HTTP (loopback, keep-alive), with 1 and with 8 clients reading in a closed loop',
    "from a process of their own (answers left as bytes), beside the same SQL run straight on chDB in Hourglass's",
    'process (a chDB session on the same data, bound parameters, results left as bytes, statements of one read',
    `run together); then the same HTTP reads while ${PLAN.ingest.eventsPerSecond.toLocaleString('en-US')} events/s are ingested (open loop, batches of ${PLAN.ingest.batchSize}) into`,
    'the app source the first two routes read.',
    `Latencies in ms over up to ${PLAN.reads} reads (${PLAN.budgetMs / 1000} s at most) after ${PLAN.warmupReads} unmeasured.`,
    '',
  )
  out.push(
    table([
      [
        'route',
        'readers',
        'HTTP p50',
        'p99',
        'direct p50',
        'p99',
        'HTTP÷direct p50',
        'ingest p50',
        'p99',
        'ingest÷quiet p50',
      ],
      ...figures.map((f) => [
        f.route.name,
        String(f.readers),
        ms(f.http.p50),
        ms(f.http.p99),
        ms(f.direct.p50),
        ms(f.direct.p99),
        times(f.http.p50 / f.direct.p50),
        ms(f.loaded.p50),
        ms(f.loaded.p99),
        times(f.loaded.p50 / f.http.p50),
      ]),
    ]),
    '',
  )
  const failures = figures.reduce((sum, f) => sum + f.http.failures + f.loaded.failures, 0)
  out.push(
    `Ingest achieved ${Math.round(ingest.rate).toLocaleString('en-US')} events/s during the loaded reads (${ingest.failures} failed batches); failed reads: ${failures}.`,
    '',
    table([
      ['phase', 'wall', 'CPU', 'clients', 'others', 'loop', 'loop delay p50 / p99'],
      usageRow('quiet reads (HTTP and direct)', usage.quiet, delay.quiet),
      usageRow(
        `reads under ${PLAN.ingest.eventsPerSecond.toLocaleString('en-US')} events/s`,
        usage.loaded,
        delay.loaded,
      ),
    ]),
    '',
    "Where the HTTP reads' time went: statements on chDB per read (0: every read answered from the read cache),",
    'and their time per read in ms (waiting for the read connection included); the rest is HTTP, authentication,',
    "the event loop and the answer's bytes.",
    '',
    table([
      [
        'route',
        'readers',
        'quiet: statements/read',
        'chDB ms/read',
        'ingest: statements/read',
        'chDB ms/read',
      ],
      ...figures.map((f) => [
        f.route.name,
        String(f.readers),
        f.http.statementsPerRead.toFixed(2),
        ms(f.http.chdbMsPerRead),
        f.loaded.statementsPerRead.toFixed(2),
        ms(f.loaded.chdbMsPerRead),
      ]),
    ]),
    '',
  )
  const rollup = figures.find((f) => f.route.name.startsWith('hourly rollup') && f.readers === 1)
  const eye = figures.filter((f) => f.route.name.startsWith('The Eye') && f.readers === 8)
  const overDirect = figures.filter((f) => f.http.p50 / f.direct.p50 > GOALS.httpOverDirect)
  const overQuiet = figures.filter((f) => f.loaded.p50 / f.http.p50 > GOALS.ingestOverQuiet)
  const name = (f: RouteFigures) => `${f.route.name} (${f.readers})`
  out.push(
    'Goals',
    `  ${mark(!!rollup && rollup.http.p99 <= GOALS.rollupP99Ms)} hourly rollup p99 ≤ ${GOALS.rollupP99Ms} ms (1 reader): ${rollup ? ms(rollup.http.p99) : 'n/a'} ms`,
    `  ${mark(eye.length > 0 && eye.every((f) => f.http.p50 <= GOALS.eyeP50Ms8))} The Eye lists p50 ≤ ${GOALS.eyeP50Ms8} ms with 8 readers: ${eye.map((f) => `${ms(f.http.p50)} ms`).join(', ')}`,
    `  ${mark(overDirect.length === 0)} every read within ${GOALS.httpOverDirect}× of its direct query (p50)${overDirect.length ? `; not: ${overDirect.map(name).join(', ')}` : ''}`,
    `  ${mark(overQuiet.length === 0)} reads under ingest at most ${GOALS.ingestOverQuiet}× quiet (p50)${overQuiet.length ? `; not: ${overQuiet.map(name).join(', ')}` : ''}`,
    `  ${mark(failures === 0)} no failed read`,
    '',
  )
  process.stdout.write(`${out.join('\n')}\n`)
}

/**
 * `npm run bench -- reads`: every read route's latency over HTTP with 1 and 8 readers, beside
 * its SQL straight on chDB, then again while ingest runs at 10,000 events/s. Prints figures
 * beside the goals; asserts nothing.
 */
export async function runReadsBench(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hourglass-bench-reads-'))
  const config = loadEmbeddedConfig({ HOURGLASS_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn' })
  const runtime = await startEmbedded(config, pino({ level: 'warn' }))
  const readers = createReaderPool(runtime.url, Math.max(...PLAN.readers))
  const producers = createProducerPool(runtime.url, 32)
  const rss = sampleRss(50)
  const session = new Session(join(dataDir, 'warehouse'))
  try {
    note('loading and projecting the data')
    const data = await loadReadsDataset(runtime, note)
    const routes = readRoutes(runtime, data)
    const probe = probeWarehouse(runtime.warehouse)
    const results: { route: ReadRoute; readers: number; http: Latency & Breakdown; direct: Latency }[] = []
    const clientsCpu = () => producers.cpuSeconds() + readers.cpuSeconds()
    const quiet = meterPhase(probe, rss, clientsCpu)
    const quietDelay = loopDelay()
    for (const route of routes) {
      for (const n of PLAN.readers) {
        const http = await withBreakdown(probe, route, () => httpReads(readers, route, n))
        const direct = await timedReads(n, directRead(session, route))
        note(`${route.name}, ${n} reader(s): HTTP p50 ${ms(http.p50)} ms, direct p50 ${ms(direct.p50)} ms`)
        results.push({ route, readers: n, http, direct })
      }
    }
    const quietUsage = quiet.stop()
    const quietLoop = quietDelay.stop()
    note(`ingesting ${PLAN.ingest.eventsPerSecond.toLocaleString('en-US')} events/s into the app source`)
    const ingest = startIngest(producers, data)
    await new Promise((resolve) => setTimeout(resolve, PLAN.ingest.rampMs))
    const loadedPhase = meterPhase(probe, rss, clientsCpu)
    const loadedDelay = loopDelay()
    const figures: RouteFigures[] = []
    for (const result of results) {
      const loaded = await withBreakdown(probe, result.route, () =>
        httpReads(readers, result.route, result.readers),
      )
      note(`${result.route.name}, ${result.readers} reader(s), under ingest: HTTP p50 ${ms(loaded.p50)} ms`)
      figures.push({ ...result, loaded })
    }
    const loadedUsage = loadedPhase.stop()
    const loadedLoop = loadedDelay.stop()
    const ingested = await ingest.stop()
    printReads(
      figures,
      { quiet: quietUsage, loaded: loadedUsage },
      { quiet: quietLoop, loaded: loadedLoop },
      ingested,
    )
  } finally {
    session.close()
    rss.stop()
    await readers.close()
    await producers.close()
    await runtime.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}
