import type { BenchContext } from './benchContext.ts'
import { meterPhase, type PhaseUsage, percentile } from './measures.ts'

export interface RollupQueryPlan {
  readonly queries: number
  readonly days: number
  /** No query is sent after this long. */
  readonly budgetMs: number
}

export interface RollupQueryResult {
  readonly queries: number
  readonly failures: number
  /** Rows in one answer: hours × event names. */
  readonly rows: number
  readonly p50: number
  readonly p99: number
  readonly usage: PhaseUsage
}

/** One client asking for the hourly rollup of a source over the last `days`, one query after another. */
export async function measureRollupQueries(
  ctx: BenchContext,
  sourceId: string,
  plan: RollupQueryPlan,
): Promise<RollupQueryResult> {
  const latencies: number[] = []
  let failures = 0
  let rows = 0
  const to = Date.now()
  const range = { from: to - plan.days * 24 * 3600_000, to }
  const meter = meterPhase(ctx.probe, ctx.rss, ctx.producers.cpuSeconds)
  const stopTicker = ctx.progress.every(2000, () => `${latencies.length} of ${plan.queries} queries answered`)
  try {
    const until = performance.now() + plan.budgetMs
    for (let query = 0; query < plan.queries && performance.now() < until; query++) {
      const askedAt = performance.now()
      const answer = await ctx.reader.hourlyRollup(ctx.account, sourceId, range)
      latencies.push(answer.at - askedAt)
      if (answer.status !== 200) failures += 1
      else if (query === 0) rows = (JSON.parse(answer.body) as { rows: unknown[] }).rows.length
    }
  } finally {
    stopTicker()
  }
  return {
    queries: latencies.length,
    failures,
    rows,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    usage: meter.stop(),
  }
}
