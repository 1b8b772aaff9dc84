import { type BenchContext, eventsInRollup, pollUntil, VISIBLE_POLL_MS } from './benchContext.ts'
import type { BenchSource } from './hourglassApi.ts'
import { meterPhase, type PhaseUsage } from './measures.ts'
import type { EventFactory, EventTimes } from './producerEvents.ts'
import type { RunReport } from './producerPool.ts'

export interface IngestPlan {
  readonly events: number
  readonly batchSize: number
  readonly concurrency: number
  /** Event times of the events. */
  readonly times: EventTimes
  readonly visibleTimeoutMs: number
  /** No request is sent after this long, so a slow (or shared) machine still finishes the run. */
  readonly sendBudgetMs: number
}

export interface IngestResult {
  /** Requests sent: fewer than planned when the send budget ran out. */
  readonly requests: number
  readonly plannedRequests: number
  /** Events acknowledged with a 2xx. */
  readonly events: number
  readonly failures: number
  readonly firstFailure: string | null
  /** From the first request to the last 2xx. */
  readonly acknowledgedSeconds: number
  /** From the first request to the moment the hourly rollup counts every acknowledged event; null if it never did. */
  readonly visibleSeconds: number | null
  /** Log records the projection had still to apply when the last 2xx arrived. */
  readonly lagAtLastAck: number
  /** LMDB write transactions: concurrent requests share one (group commit). */
  readonly logCommits: number
  readonly usage: PhaseUsage
}

/**
 * Closed-loop ingest: `concurrency` clients each send a batch and send the next when answered.
 * The producers' process builds every body before the clock starts (it holds them, not the
 * server), so the run times the server rather than the building of its load, and it drives the
 * run itself, so nothing crosses to this process per request.
 */
export async function measureIngest(
  ctx: BenchContext,
  source: BenchSource,
  events: EventFactory,
  plan: IngestPlan,
): Promise<IngestResult> {
  const { runtime, producers, progress } = ctx
  const plannedRequests = Math.ceil(plan.events / plan.batchSize)
  await producers.prepare(events, { events: plan.events, batchSize: plan.batchSize, times: plan.times })
  const commitsBefore = runtime.telemetry.stats().commits
  const meter = meterPhase(ctx.probe, ctx.rss, ctx.producers.cpuSeconds)
  const startedAt = performance.now()
  let acknowledged = 0
  const stopTicker = progress.every(2000, () => {
    const seconds = (performance.now() - startedAt) / 1000
    return `${acknowledged.toLocaleString('en-US')} of ${plan.events.toLocaleString('en-US')} events acknowledged (${Math.round(acknowledged / seconds).toLocaleString('en-US')}/s)`
  })
  let report: RunReport
  try {
    report = await producers.run(
      source,
      events,
      {
        events: plan.events,
        batchSize: plan.batchSize,
        concurrency: plan.concurrency,
        times: plan.times,
        sendBudgetMs: plan.sendBudgetMs,
      },
      (progressReport) => {
        acknowledged = progressReport.acknowledged
      },
    )
  } finally {
    stopTicker()
  }
  acknowledged = report.acknowledged
  const lastAckAt = Math.max(startedAt, report.lastAckAt)
  const status = (await runtime.worker.status()).find((s) => s.projection === 'events')!
  progress.note(`all answered; ${status.lag.toLocaleString('en-US')} log records still to project`)
  const { warehouse } = runtime
  const visibleAt = await pollUntil(
    async () => (await eventsInRollup(warehouse, warehouse.database, source.sourceId)) >= acknowledged,
    VISIBLE_POLL_MS,
    plan.visibleTimeoutMs,
  )
  return {
    requests: report.requests,
    plannedRequests,
    events: acknowledged,
    failures: report.failures,
    firstFailure: report.firstFailure,
    acknowledgedSeconds: (lastAckAt - startedAt) / 1000,
    visibleSeconds: visibleAt === null ? null : (visibleAt - startedAt) / 1000,
    lagAtLastAck: status.lag,
    logCommits: runtime.telemetry.stats().commits - commitsBefore,
    usage: meter.stop(),
  }
}
