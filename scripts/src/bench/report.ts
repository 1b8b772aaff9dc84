import type { BaselineResult } from './directBaseline.ts'
import type { FreshnessResult } from './freshnessPhase.ts'
import type { IngestResult } from './ingestPhase.ts'
import type { PhaseUsage, RssMakeUp } from './measures.ts'
import type { RollupQueryResult } from './rollupQueryPhase.ts'

export interface BenchReport {
  readonly setting: readonly string[]
  /** Qualified names, as the warehouse probe keys its tallies. */
  readonly tables: { readonly events: string; readonly checkpoints: string; readonly baselineEvents: string }
  readonly eventBytes: number
  readonly batched: IngestResult
  readonly baseline: BaselineResult
  /** Every round of the two, in order; `batched` and `baseline` are their medians. */
  readonly rounds: readonly { readonly baseline: BaselineResult; readonly batched: IngestResult }[]
  readonly single: IngestResult
  readonly freshness: FreshnessResult
  readonly freshnessTarget: number
  readonly queries: RollupQueryResult
  readonly queryDays: number
  readonly idleRss: number
  readonly peakRss: number
  readonly rssAtPeak: RssMakeUp
  readonly rssAtEnd: RssMakeUp
  readonly osMaxRss: number
  readonly totalSeconds: number
}

const GIB = 1024 ** 3
const MIB = 1024 ** 2
const GOALS = { ratio: 0.5, freshnessP99Ms: 1000, rss: GIB, rateShare: 0.95 } as const

const int = (value: number) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a')
const ms = (value: number) =>
  !Number.isFinite(value) ? 'n/a' : value >= 100 ? `${int(value)} ms` : `${value.toFixed(1)} ms`
const mib = (bytes: number) => `${int(bytes / MIB)} MiB`
const verdict = (meets: boolean) => (meets ? '✓ meets' : '✗ misses')
const makeUp = (m: RssMakeUp) =>
  `${mib(m.rss)}: anonymous ${mib(m.anonymous)} (JS heap ${mib(m.jsHeap)}, buffers ${mib(m.external)}, ` +
  `native ≈ ${mib(m.anonymous - m.jsHeap - m.external)}), file-backed ${mib(m.file)}`
export const rate = (count: number, seconds: number | null) =>
  seconds === null ? Number.NaN : count / seconds

/** Two decimals, cut rather than rounded: 0.497 is not shown as the 0.50 it misses. */
const ratioText = (ratio: number) => (Math.floor(ratio * 100) / 100).toFixed(2)

/** The middle item by `value` (the lower middle of an even count); an item whose value is NaN ranks lowest. */
export function medianBy<T>(items: readonly T[], value: (item: T) => number): T {
  const ranked = items
    .map((item) => ({ item, v: value(item) }))
    .sort((a, b) => (Number.isNaN(a.v) ? -Infinity : a.v) - (Number.isNaN(b.v) ? -Infinity : b.v))
  const middle = ranked[Math.floor((ranked.length - 1) / 2)]
  if (!middle) throw new Error('medianBy needs at least one item')
  return middle.item
}

export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => [...(row[column] ?? '')].length)))
  const line = (row: readonly string[]) =>
    row
      .map((cell, column) => cell + ' '.repeat(widths[column]! - [...cell].length))
      .join('  ')
      .trimEnd()
  return [line(rows[0]!), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n')
}

function usageLine(name: string, usage: PhaseUsage, tables: BenchReport['tables']): string[] {
  const batches =
    usage.warehouse.get(`insert ${tables.events}`) ?? usage.warehouse.get(`insert ${tables.baselineEvents}`)
  const checkpoints = usage.warehouse.get(`insert ${tables.checkpoints}`)
  const selects = [...usage.warehouse]
    .filter(([key]) => key.startsWith('select'))
    .reduce((sum, [, tally]) => ({ n: sum.n + tally.statements, ms: sum.ms + tally.ms }), { n: 0, ms: 0 })
  return [
    name,
    `${(usage.wallMs / 1000).toFixed(1)} s`,
    `${usage.cores.toFixed(2)}`,
    Number.isFinite(usage.producerCores) ? usage.producerCores.toFixed(2) : '?',
    Number.isFinite(usage.otherCores) ? usage.otherCores.toFixed(2) : '?',
    `${Math.round(usage.eventLoopBusy * 100)} %`,
    batches ? int(batches.statements) : '0',
    batches ? int(batches.rows / batches.statements) : '–',
    batches ? ms(batches.ms / batches.statements) : '–',
    batches ? `${Math.round((batches.ms / usage.wallMs) * 100)} %` : '–',
    checkpoints ? int(checkpoints.statements) : '0',
    selects.n > 0 ? `${int(selects.n)} (${ms(selects.ms / selects.n)})` : '0',
    mib(usage.peakRss),
  ]
}

export function printReport(report: BenchReport): void {
  const { batched, baseline, single, freshness, queries } = report
  const endToEnd = rate(batched.events, batched.visibleSeconds)
  const direct = rate(baseline.rows, baseline.seconds)
  const roundRates = report.rounds.map(({ baseline: b, batched: e }) => ({
    direct: rate(b.rows, b.seconds),
    endToEnd: rate(e.events, e.visibleSeconds),
  }))
  const roundRatios = roundRates.map((round) => round.endToEnd / round.direct)
  // Each round's baseline runs just before its end-to-end run: the ratio within a round cancels a
  // slow or fast stretch of a shared machine that the medians of each figure alone carry.
  const ratio = medianBy(roundRatios, (value) => value)
  const rateReached = freshness.achievedRate >= GOALS.rateShare * report.freshnessTarget
  const freshnessMeets =
    rateReached && freshness.rollupPoll.unseen === 0 && freshness.rollupPoll.p99 <= GOALS.freshnessP99Ms
  const out: string[] = []
  out.push('Hourglass benchmark (one run)', '')
  out.push(...report.setting.map((line) => `  ${line}`), '')
  out.push(
    table([
      ['measure', 'result', 'goal', ''],
      [
        `end-to-end, batches of 100 × ${report.eventBytes} B (first request → all in rollup), median`,
        `${int(endToEnd)} events/s`,
        '',
        '',
      ],
      [
        `direct chDB baseline, same rows, ${int(baseline.rows / baseline.inserts)} per insert, median`,
        `${int(direct)} events/s`,
        '',
        '',
      ],
      [
        `end-to-end / baseline, median of the ${report.rounds.length} rounds' ratios`,
        `${ratioText(ratio)}×`,
        `≥ ${GOALS.ratio}×`,
        verdict(ratio >= GOALS.ratio),
      ],
      [
        'single-event requests (1 event each, to 2xx)',
        `${int(rate(single.requests - single.failures, single.acknowledgedSeconds))} req/s`,
        '',
        '',
      ],
      [
        `freshness p50 at ${int(report.freshnessTarget)} events/s (2xx → in rollup)`,
        ms(freshness.rollupPoll.p50),
        '',
        '',
      ],
      [
        `freshness p99 at ${int(report.freshnessTarget)} events/s (2xx → in rollup)`,
        ms(freshness.rollupPoll.p99),
        '≤ 1 s',
        verdict(freshnessMeets),
      ],
      [
        '  rate achieved in the freshness run',
        `${int(freshness.achievedRate)} events/s`,
        `${int(report.freshnessTarget)}`,
        rateReached ? '✓ held' : '✗ not held',
      ],
      [`rollup query p50 (${report.queryDays} days, ${int(queries.rows)} rows)`, ms(queries.p50), '', ''],
      [`rollup query p99 (${report.queryDays} days, ${int(queries.rows)} rows)`, ms(queries.p99), '', ''],
      [
        'peak RSS, sampled every 50 ms (whole process)',
        mib(report.peakRss),
        '≤ 1 GiB',
        verdict(report.peakRss <= GOALS.rss),
      ],
      ['peak RSS, OS maxRSS', mib(report.osMaxRss), '≤ 1 GiB', verdict(report.osMaxRss <= GOALS.rss)],
    ]),
    '',
  )

  out.push('Details', '')
  out.push(
    table([
      ['figure', 'value'],
      [
        'rounds: baseline → end-to-end events/s (ratio)',
        roundRates
          .map((round, i) => `${int(round.direct)} → ${int(round.endToEnd)} (${ratioText(roundRatios[i]!)})`)
          .join('; '),
      ],
      ['end-to-end / baseline, ratio of the two medians', `${ratioText(endToEnd / direct)}×`],
      [
        'end-to-end: acknowledged (first request → last 2xx)',
        `${int(rate(batched.events, batched.acknowledgedSeconds))} events/s in ${batched.acknowledgedSeconds.toFixed(1)} s`,
      ],
      [
        'end-to-end: visible in rollup (first request → all counted)',
        batched.visibleSeconds === null ? 'never (timed out)' : `${batched.visibleSeconds.toFixed(1)} s`,
      ],
      ['end-to-end: log records still to project at the last 2xx', int(batched.lagAtLastAck)],
      [
        'end-to-end: log group commits (requests per commit)',
        `${int(batched.logCommits)} (${(batched.requests / Math.max(1, batched.logCommits)).toFixed(1)})`,
      ],
      ['baseline: time in inserts + wait for rollup', `${baseline.seconds?.toFixed(2) ?? 'n/a'} s`],
      [
        'single events: visible in rollup',
        `${int(rate(single.events, single.visibleSeconds))} events/s (${single.visibleSeconds?.toFixed(1) ?? 'never'} s)`,
      ],
      [
        'single events: log group commits (requests per commit)',
        `${int(single.logCommits)} (${(single.requests / Math.max(1, single.logCommits)).toFixed(1)})`,
      ],
      [
        'freshness, projection commit clock: p50 / p99 / max',
        `${ms(freshness.projectionCommit.p50)} / ${ms(freshness.projectionCommit.p99)} / ${ms(freshness.projectionCommit.max)}`,
      ],
      [
        'freshness, rollup read clock: max; batches measured / never seen',
        `${ms(freshness.rollupPoll.max)}; ${int(freshness.rollupPoll.samples)} / ${int(freshness.rollupPoll.unseen)}`,
      ],
      [
        'freshness: rollup reads during the run (mean time each)',
        `${int(freshness.rollupReads)} (${ms(freshness.rollupReadMs)})`,
      ],
      [
        'freshness: send → 2xx p50 / p99',
        `${ms(freshness.acknowledgement.p50)} / ${ms(freshness.acknowledgement.p99)}`,
      ],
      [
        'freshness: pacer lateness p99; most in flight; stalls',
        `${ms(freshness.pacerLateP99)}; ${freshness.maxInFlight}; ${freshness.stalls}`,
      ],
      [
        'requests sent of planned (e2e / single); freshness batches unsent; queries',
        `${int(batched.requests)} of ${int(batched.plannedRequests)} / ${int(single.requests)} of ${int(single.plannedRequests)}; ${int(freshness.unsent)}; ${int(queries.queries)}`,
      ],
      [
        'failed requests (e2e / single / freshness / queries)',
        `${batched.failures} / ${single.failures} / ${freshness.failures} / ${queries.failures}`,
      ],
      ['RSS when idle after start (chDB loaded)', mib(report.idleRss)],
      ['RSS at its peak', makeUp(report.rssAtPeak)],
      ['RSS at the end', makeUp(report.rssAtEnd)],
      ['total run time', `${report.totalSeconds.toFixed(0)} s`],
    ]),
    '',
  )
  for (const failure of [batched.firstFailure, single.firstFailure])
    if (failure) out.push(`first failure: ${failure}`)

  out.push(
    'Where the time went, per phase. CPU: cores the Hourglass process kept busy. producers: cores the load',
    "generator's process kept busy. others: cores any other process kept busy (above about 0.1 they skew",
    'every figure). loop: main thread busy. inserts: into the events',
    'table (the direct one for the baseline), rows each, mean time from call to answer, and the share of',
    'the wall time with one in flight. checkpoints: checkpoint inserts of all runners. selects: all reads.',
    '',
  )
  out.push(
    table([
      [
        'phase',
        'wall',
        'CPU',
        'producers',
        'others',
        'loop',
        'inserts',
        'rows/insert',
        'ms/insert',
        'in insert',
        'checkpoints',
        'selects (mean)',
        'peak RSS',
      ],
      usageLine('direct baseline (median round)', baseline.usage, report.tables),
      usageLine('end-to-end, 100 a batch (median)', batched.usage, report.tables),
      usageLine('single events', single.usage, report.tables),
      usageLine('freshness at steady rate', freshness.usage, report.tables),
      usageLine('rollup queries', queries.usage, report.tables),
    ]),
  )
  process.stdout.write(`${out.join('\n')}\n`)
}
