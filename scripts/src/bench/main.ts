/**
 * `npm run bench`: a benchmark, not a test. Starts a real embedded Hourglass (LMDB log, chDB
 * warehouse) on a free loopback port in a temporary folder, drives it over HTTP, and prints
 * throughput, freshness, query latency and memory, each beside its goal. Nothing is asserted.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { loadEmbeddedConfig } from '@hourglass/control'
import { projections, tables } from '@hourglass/projections'
import { pino } from 'pino'
import { startEmbedded } from '../embeddedRuntime.ts'
import { admissionBench } from './admissionBench.ts'
import { type BenchContext, createProgress, projectionsSettled, VISIBLE_POLL_MS } from './benchContext.ts'
import type { BenchFigure, BenchPhase } from './benchFigure.ts'
import { runControlStoreBench } from './controlStoreBench.ts'
import { devicesBench } from './devicesBench.ts'
import { type BaselineResult, measureDirectBaseline, prepareDirectBaseline } from './directBaseline.ts'
import { runDistributedBench } from './distributedBench.ts'
import { measureFreshness } from './freshnessPhase.ts'
import { hourglassApi } from './hourglassApi.ts'
import { type IngestResult, measureIngest } from './ingestPhase.ts'
import { createLoopbackClient } from './loopbackClient.ts'
import { machineCoresBusy, osMaxRss, probeWarehouse, rssMakeUp, sampleRss } from './measures.ts'
import { perUserStatsBench } from './perUserStatsBench.ts'
import { createEventFactory, type EventTimes, eventTimes, toBaselineRow } from './producerEvents.ts'
import { createProducerPool } from './producerPool.ts'
import { runReadsBench } from './readsBench.ts'
import { receiptsBench } from './receiptsBench.ts'
import { replayBench } from './replayBench.ts'
import { medianBy, printReport, rate } from './report.ts'
import { measureRollupQueries } from './rollupQueryPhase.ts'
import { sessionChurnBench, sessionChurnSettings } from './sessionChurnBench.ts'
import { theEyeFreshnessBench } from './theEyeFreshnessBench.ts'

/** Sizes of every phase: about two minutes on an otherwise idle two-core machine; budgets bound a busy one. */
const PLAN = {
  concurrency: 16,
  warmupEvents: 50_000,
  batched: { events: 120_000, batchSize: 100 },
  /** Rounds of the baseline and the batched run, alternating; medians are reported. */
  rounds: 5,
  baselineBatchSize: 10_000,
  singleRequests: 20_000,
  freshness: {
    eventsPerSecond: 10_000,
    batchSize: 100,
    rampMs: 3_000,
    measureMs: 20_000,
    pollMs: 50,
    maxInFlight: 256,
    drainTimeoutMs: 30_000,
    pacingBudgetMs: 35_000,
  },
  queries: { queries: 500, days: 30, budgetMs: 45_000 },
  /** Event times of the batched run spread over this many days, so the 30-day rollup query reads a full month. */
  spreadDays: 30,
  rssSampleMs: 50,
  visibleTimeoutMs: 120_000,
  /** Closed-loop phases stop sending after this long; on an idle machine they finish well within it. */
  sendBudgetMs: 60_000,
} as const

/** Settings the bench takes from its own environment; every other one is the bench's or the default. */
const TUNABLE = [
  'HOURGLASS_PROJECTION_BATCH_SIZE',
  'HOURGLASS_PROJECTION_LINGER_MS',
  'HOURGLASS_HEAP_GROWTH_PERCENT',
] as const

async function main(): Promise<void> {
  const startedAt = performance.now()
  const progress = createProgress()
  // Other processes on the machine take CPU from the server and skew every figure: say so up front.
  const busyBefore = await machineCoresBusy()
  if (busyBefore !== null && busyBefore > 0.3) {
    progress.note(
      `warning: the machine is already busy (${busyBefore.toFixed(1)} cores); figures will be low`,
    )
  }
  const rss = sampleRss(PLAN.rssSampleMs)
  const dataDir = mkdtempSync(join(tmpdir(), 'hourglass-bench-'))
  const config = loadEmbeddedConfig({
    HOURGLASS_DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    // The knobs worth trying from the command line; the defaults are what `npm start` runs.
    ...Object.fromEntries(
      TUNABLE.filter((name) => process.env[name]).map((name) => [name, process.env[name]]),
    ),
  })
  progress.note(`starting an embedded Hourglass in ${dataDir}`)
  const runtime = await startEmbedded(config, pino({ level: config.logLevel }))
  const client = createLoopbackClient(runtime.url, PLAN.concurrency * 2)
  const readerClient = createLoopbackClient(runtime.url, 2)
  const producers = createProducerPool(runtime.url, PLAN.concurrency * 2)
  try {
    const idleRss = process.memoryUsage.rss()
    const api = hourglassApi(client)
    const account = await api.signUp()
    const [warmupSource, batchedSource, singleSource, freshnessSource] = await Promise.all(
      ['warm-up', 'batched', 'single', 'freshness'].map((name) => api.createSource(account, `bench-${name}`)),
    )
    const probe = probeWarehouse(runtime.warehouse)
    const reader = hourglassApi(readerClient)
    const ctx: BenchContext = { runtime, api, producers, reader, account, probe, rss, progress }
    const settle = async () => {
      if (!(await projectionsSettled(runtime, PLAN.visibleTimeoutMs)))
        progress.note('projection did not settle')
    }
    const now = Date.now()
    const recent: EventTimes = { kind: 'recent', now }
    const nearNow = eventTimes(recent)

    // Warm-up, not reported: JIT, connection pool, the first parts of each table.
    progress.phase('warm-up')
    await measureIngest(ctx, warmupSource!, createEventFactory('warmup', 1), {
      events: PLAN.warmupEvents,
      batchSize: PLAN.batched.batchSize,
      concurrency: PLAN.concurrency,
      times: recent,
      visibleTimeoutMs: PLAN.visibleTimeoutMs,
      sendBudgetMs: PLAN.sendBudgetMs,
    })
    const baseline = await prepareDirectBaseline(runtime.warehouse, 'bench_baseline')
    const warmupEvents = createEventFactory('warmup', 1)
    await baseline.insert(
      Array.from({ length: PLAN.baselineBatchSize }, (_, i) =>
        toBaselineRow(warmupEvents.event(i, nearNow(i)), warmupSource!, i, now),
      ),
      'bench-baseline:warm-up',
    )
    await settle()

    // The baseline and the end-to-end run alternate, a few rounds of each, and medians are
    // reported: either figure alone varies by a tenth from one run to the next on a small
    // machine, and a ratio of two single samples twice as much. The ratio is taken within each
    // round and the median of those reported. Each round has its own source and events. The
    // baseline goes first in a round, on an idle engine: the fairest chance for the figure it
    // is compared with.
    const spreadTimes: EventTimes = { kind: 'spread', now, days: PLAN.spreadDays, seed: 2 }
    const spread = eventTimes(spreadTimes)
    const rounds: { baseline: BaselineResult; batched: IngestResult }[] = []
    for (let round = 1; round <= PLAN.rounds; round++) {
      const source =
        round === 1 ? batchedSource! : await api.createSource(account, `bench-batched-round-${round}`)
      const batchedEvents = createEventFactory(`batched-${round}`, 1 + round)
      progress.phase(`direct chDB baseline, round ${round} of ${PLAN.rounds}`)
      const baselineResult = await measureDirectBaseline(ctx, baseline, source, batchedEvents, {
        events: PLAN.batched.events,
        batchSize: PLAN.baselineBatchSize,
        timeOf: spread,
        visibleTimeoutMs: PLAN.visibleTimeoutMs,
      })
      await settle()
      progress.phase(`end-to-end, batches of 100, round ${round} of ${PLAN.rounds}`)
      const batchedResult = await measureIngest(ctx, source, batchedEvents, {
        ...PLAN.batched,
        concurrency: PLAN.concurrency,
        times: spreadTimes,
        visibleTimeoutMs: PLAN.visibleTimeoutMs,
        sendBudgetMs: PLAN.sendBudgetMs,
      })
      await settle()
      rounds.push({ baseline: baselineResult, batched: batchedResult })
    }
    // The baseline's tables are the bench's, not Hourglass's: they go before the phases that follow.
    await baseline.drop()
    const batched = medianBy(
      rounds.map((round) => round.batched),
      (result) => rate(result.events, result.visibleSeconds),
    )
    const baselineResult = medianBy(
      rounds.map((round) => round.baseline),
      (result) => rate(result.rows, result.seconds),
    )

    progress.phase('single-event requests')
    const single = await measureIngest(ctx, singleSource!, createEventFactory('single', 3), {
      events: PLAN.singleRequests,
      batchSize: 1,
      concurrency: PLAN.concurrency,
      times: recent,
      visibleTimeoutMs: PLAN.visibleTimeoutMs,
      sendBudgetMs: PLAN.sendBudgetMs,
    })
    await settle()

    progress.phase(`freshness at ${PLAN.freshness.eventsPerSecond.toLocaleString('en-US')} events/s`)
    const freshness = await measureFreshness(
      ctx,
      freshnessSource!,
      createEventFactory('fresh', 4),
      PLAN.freshness,
    )
    await settle()

    progress.phase('rollup queries')
    const queries = await measureRollupQueries(ctx, batchedSource!.sourceId, PLAN.queries)

    const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU'
    printReport({
      setting: [
        `Node ${process.version}; ${availableParallelism()} cores (${cpu}); ${Math.round(totalmem() / 1024 ** 3)} GiB RAM.`,
        `Machine busy before the run: ${busyBefore === null ? 'unknown' : `${busyBefore.toFixed(2)} cores`} (other processes; see "others" per phase below).`,
        'Hourglass (Fastify, LMDB log, chDB) runs in this process; the load generator builds and sends its',
        'requests from a child process. Both share the cores; RSS figures are of the Hourglass process alone.',
        `HTTP/1.1 over loopback with keep-alive, ${PLAN.concurrency} concurrent clients (the freshness run is open-loop).`,
        `Projections running: ${projections.map((p) => p.name).join(', ')}; each batch read once for all of them, batches of up to ${config.projectionBatchSize.toLocaleString('en-US')}, held up to ${config.projectionLingerMs} ms to fill.`,
        `JS heap growth past its live size: ${config.heapGrowthPercent > 0 ? `at most ${config.heapGrowthPercent} %` : "V8's own policy"} (HOURGLASS_HEAP_GROWTH_PERCENT).`,
        `The baseline and the batched run alternate for ${PLAN.rounds} rounds, each with its own source; medians are reported.`,
        `Event times of the batched run (and of its baseline) spread over the last ${PLAN.spreadDays} days.`,
        `Both wait for their rows with the same read of their rollup table's total, every ${VISIBLE_POLL_MS} ms.`,
        'Freshness: from a 2xx to the first read of GET /v1/sources/:id/rollups/hourly that counts the batch,',
        `read every ${PLAN.freshness.pollMs} ms (an upper bound); the first ${PLAN.freshness.rampMs / 1000} s of the run are left out as ramp-up.`,
      ],
      tables: {
        events: runtime.warehouse.table(tables.eventsRaw),
        checkpoints: runtime.warehouse.table(tables.checkpoints),
        baselineEvents: `${baseline.database}.${tables.eventsRaw}`,
      },
      eventBytes: Math.round(
        (createEventFactory('batched-1', 2).batchBody(0, PLAN.batched.batchSize, spread).length -
          '{"events":[]}'.length) /
          PLAN.batched.batchSize,
      ),
      batched,
      baseline: baselineResult,
      rounds,
      single,
      freshness,
      freshnessTarget: PLAN.freshness.eventsPerSecond,
      queries,
      queryDays: PLAN.queries.days,
      idleRss,
      peakRss: rss.peak(),
      rssAtPeak: rss.atPeak(),
      rssAtEnd: rssMakeUp(),
      osMaxRss: osMaxRss(),
      totalSeconds: (performance.now() - startedAt) / 1000,
    })
  } finally {
    rss.stop()
    client.close()
    readerClient.close()
    await producers.close()
    progress.phase('shutdown')
    await runtime.close()
    rmSync(dataDir, { recursive: true, force: true })
    progress.note('done')
  }
}

/** The feature phases, each on a fresh embedded Hourglass: they load a million records or more. */
const FEATURE_PHASES: Record<string, BenchPhase> = {
  'per-user-stats': perUserStatsBench,
  'the-eye-freshness': theEyeFreshnessBench,
  receipts: receiptsBench,
  devices: devicesBench,
  admission: admissionBench,
  replay: replayBench,
  sessions: sessionChurnBench,
}
/** Settings a feature phase's Hourglass runs with, beside the defaults. */
const PHASE_SETTINGS: Record<string, Record<string, string>> = { sessions: sessionChurnSettings }
const SECTIONS = ['core', ...Object.keys(FEATURE_PHASES), 'reads', 'distributed', 'control-store']

async function runFeaturePhase(name: string, phase: BenchPhase): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), `hourglass-bench-${name}-`))
  const config = loadEmbeddedConfig({
    HOURGLASS_DATA_DIR: dataDir,
    PORT: '0',
    LOG_LEVEL: 'warn',
    ...PHASE_SETTINGS[name],
  })
  const runtime = await startEmbedded(config, pino({ level: 'warn' }))
  try {
    process.stderr.write(`[bench] ${name}: started\n`)
    printFigures(name, await phase(runtime))
  } finally {
    await runtime.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

function printFigures(name: string, figures: readonly BenchFigure[]) {
  process.stdout.write(`\n== ${name} ==\n`)
  for (const f of figures) {
    const value = Number.isInteger(f.value) ? f.value.toLocaleString('en') : f.value.toFixed(2)
    const goal = f.goal
      ? `  goal ${f.goal}${f.meets === undefined ? '' : f.meets ? ' ✓ meets' : ' ✗ misses'}`
      : ''
    process.stdout.write(
      `  ${`${f.phase}: ${f.name}`.padEnd(64)} ${`${value} ${f.unit}`.padStart(18)}${goal}\n`,
    )
  }
}

// `npm run bench` runs every section; `npm run bench -- core receipts` runs the ones named.
const chosen = process.argv.slice(2).filter((arg) => !arg.startsWith('-'))
const unknown = chosen.filter((section) => !SECTIONS.includes(section))
if (unknown.length > 0) {
  process.stderr.write(
    `unknown bench section(s): ${unknown.join(', ')}; choose from ${SECTIONS.join(', ')}\n`,
  )
  process.exit(2)
}
const wanted = (section: string) => chosen.length === 0 || chosen.includes(section)
if (wanted('core')) await main()
for (const [name, phase] of Object.entries(FEATURE_PHASES)) {
  if (wanted(name)) await runFeaturePhase(name, phase)
}
// Every read route beside its SQL straight on chDB, quiet and under ingest.
if (wanted('reads')) await runReadsBench()
// Distributed mode (Kafka, one and two workers) beside embedded mode under the same load.
if (wanted('distributed')) await runDistributedBench()
// The PostgreSQL control store of distributed mode: appends per second with appenders in several processes.
if (wanted('control-store')) printFigures('control-store', await runControlStoreBench())
