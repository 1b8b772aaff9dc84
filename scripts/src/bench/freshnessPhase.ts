import { setMaxListeners } from 'node:events'
import type { BenchContext } from './benchContext.ts'
import type { BenchSource } from './hourglassApi.ts'
import { sleep } from './loopbackClient.ts'
import { meterPhase, type PhaseUsage, percentile } from './measures.ts'
import type { EventFactory } from './producerEvents.ts'

export interface FreshnessPlan {
  readonly eventsPerSecond: number
  readonly batchSize: number
  /** Sent at the steady rate but left out of the figures: the pipeline settles into the rate first. */
  readonly rampMs: number
  readonly measureMs: number
  /** How often the hourly rollup is read to see which batches it counts. */
  readonly pollMs: number
  /** Most batches awaiting an answer; beyond it the pacer waits, and says so in `stalls`. */
  readonly maxInFlight: number
  /** After pacing, how long to wait for answers and for the rollup to count them. */
  readonly drainTimeoutMs: number
  /** Pacing stops this long after it started even if batches are left: an overloaded server falls behind. */
  readonly pacingBudgetMs: number
}

export interface FreshnessResult {
  readonly batches: number
  /** Batches never sent because the pacing budget ran out. */
  readonly unsent: number
  readonly failures: number
  /** Acknowledged events per second over the measured window. */
  readonly achievedRate: number
  /** From a batch's 2xx to the first rollup read that counts it: an upper bound (poll interval + query time). */
  readonly rollupPoll: { p50: number; p99: number; max: number; samples: number; unseen: number }
  /** From a batch's 2xx to the projection runner's commit past it (its insert has returned, so ClickHouse shows it). */
  readonly projectionCommit: { p50: number; p99: number; max: number; samples: number }
  /** From sending a batch to its 2xx. */
  readonly acknowledgement: { p50: number; p99: number }
  /** How late the pacer sent batches (the load generator shares the CPU with the server). */
  readonly pacerLateP99: number
  readonly maxInFlight: number
  readonly stalls: number
  readonly rollupReads: number
  /** Mean time of one rollup read during the run. */
  readonly rollupReadMs: number
  readonly usage: PhaseUsage
}

interface SentBatch {
  readonly due: number
  readonly sentAt: number
  readonly size: number
  ackAt?: number
  /** Log position of the batch's last event. */
  lastPosition?: number
  committedAt?: number
}

interface RollupRead {
  readonly askedAt: number
  readonly answeredAt: number
  /** The source's events the rollup counted. */
  readonly total: number
}

const summary = (samples: readonly number[]) => ({
  p50: percentile(samples, 50),
  p99: percentile(samples, 99),
  max: percentile(samples, 100),
  samples: samples.length,
})

/**
 * Open-loop load at a steady rate: a batch is due every `batchSize / eventsPerSecond` seconds
 * whether or not earlier ones were answered, as real producers behave. Two clocks tell when a
 * batch is visible: reads of the hourly rollup over HTTP (what a user sees), and the projection
 * runner's commit (precise, in process).
 *
 * Which rollup read first counts a batch is worked out afterwards: the projection applies the
 * log in order, so once the rollup counts T of the source's events, they are its first T in log
 * order, and a batch is visible once T reaches the number of the source's events up to its last
 * position. This holds whatever else the log holds in between.
 */
export async function measureFreshness(
  ctx: BenchContext,
  source: BenchSource,
  events: EventFactory,
  plan: FreshnessPlan,
): Promise<FreshnessResult> {
  const { runtime, producers, reader, progress } = ctx
  const intervalMs = (plan.batchSize / plan.eventsPerSecond) * 1000
  const totalBatches = Math.round((plan.rampMs + plan.measureMs) / intervalMs)
  const stopWaiting = new AbortController()
  // Every batch in flight waits on this one signal: many listeners are expected, not a leak.
  setMaxListeners(0, stopWaiting.signal)
  const batches: SentBatch[] = []
  const reads: RollupRead[] = []
  let inFlight = 0
  let maxInFlight = 0
  let stalls = 0
  let acknowledged = 0
  let failures = 0
  const phaseStartMs = Date.now()
  const rollupRange = { from: phaseStartMs - 24 * 3600_000, to: phaseStartMs + 24 * 3600_000 }

  const send = (index: number, due: number) => {
    const batch: SentBatch = { due, sentAt: performance.now(), size: plan.batchSize }
    batches.push(batch)
    inFlight += 1
    maxInFlight = Math.max(maxInFlight, inFlight)
    // Event times are "now" give or take a device clock's couple of seconds.
    const order = {
      events,
      from: index * plan.batchSize,
      count: plan.batchSize,
      times: { kind: 'at-send' } as const,
    }
    producers.post(source, order).then(
      (answer) => {
        inFlight -= 1
        if (answer.status !== 200) {
          failures += 1
          return
        }
        batch.ackAt = answer.at
        acknowledged += batch.size
        const last = answer.lastPosition
        batch.lastPosition = last
        runtime.worker.caughtUp('events', [last + 1], stopWaiting.signal).then(
          () => {
            batch.committedAt = performance.now()
          },
          () => undefined,
        )
      },
      () => {
        inFlight -= 1
        failures += 1
      },
    )
  }

  const meter = meterPhase(ctx.probe, ctx.rss, ctx.producers.cpuSeconds)
  const startedAt = performance.now()
  let pacing = true
  let pacingEndedAt = Number.POSITIVE_INFINITY
  const stopTicker = progress.every(2000, () => {
    const seconds = (performance.now() - startedAt) / 1000
    return `${batches.length} batches sent, ${Math.round(acknowledged / seconds).toLocaleString('en-US')} events/s acknowledged, ${inFlight} in flight`
  })

  // The reader of the hourly rollup, on its own connection, until it counts every acknowledged event.
  const readingRollup = (async () => {
    let total = 0
    while (
      (pacing || inFlight > 0 || total < acknowledged) &&
      performance.now() < pacingEndedAt + plan.drainTimeoutMs
    ) {
      const askedAt = performance.now()
      total = await reader.rollupTotal(ctx.account, source.sourceId, rollupRange)
      const answeredAt = performance.now()
      reads.push({ askedAt, answeredAt, total })
      await sleep(plan.pollMs - (answeredAt - askedAt))
    }
  })()

  // The pacer: sends every batch that is due, catching up at once when a timer fired late.
  let next = 0
  try {
    const pacingUntil = startedAt + plan.pacingBudgetMs
    while (next < totalBatches && performance.now() < pacingUntil) {
      const due = startedAt + next * intervalMs
      const now = performance.now()
      if (now < due) {
        await sleep(due - now)
      } else if (inFlight >= plan.maxInFlight) {
        stalls += 1
        await sleep(1)
      } else {
        send(next, due)
        next += 1
      }
    }
  } finally {
    pacing = false
    pacingEndedAt = performance.now()
    stopTicker()
  }
  progress.note('pacing done; waiting for the answers and for the rollup to count the last batches')
  await readingRollup
  // Answers still owed would overlap the next phase: wait for them too, within the same budget.
  while (inFlight > 0 && performance.now() < pacingEndedAt + plan.drainTimeoutMs) await sleep(20)
  stopWaiting.abort()
  const usage = meter.stop()

  // The source's events up to each acknowledged batch, in log order.
  const acked = batches.filter((batch) => batch.lastPosition !== undefined)
  const inLogOrder = [...acked].sort((a, b) => a.lastPosition! - b.lastPosition!)
  const countThrough = new Map<SentBatch, number>()
  let count = 0
  for (const batch of inLogOrder) {
    count += batch.size
    countThrough.set(batch, count)
  }
  /** When the first rollup read counting `needed` events answered (reads' totals never fall). */
  const firstReadCounting = (needed: number): number | undefined => {
    let low = 0
    let high = reads.length
    while (low < high) {
      const middle = (low + high) >> 1
      if (reads[middle]!.total >= needed) high = middle
      else low = middle + 1
    }
    return reads[low]?.answeredAt
  }

  const windowStart = startedAt + plan.rampMs
  const measured = acked.filter((batch) => batch.due >= windowStart)
  const lastAck = measured.reduce((latest, batch) => Math.max(latest, batch.ackAt!), windowStart)
  const seenAfterAck: number[] = []
  let unseen = 0
  for (const batch of measured) {
    const seenAt = firstReadCounting(countThrough.get(batch)!)
    if (seenAt === undefined) unseen += 1
    else seenAfterAck.push(Math.max(0, seenAt - batch.ackAt!))
  }
  const committedAfterAck = measured
    .filter((batch) => batch.committedAt !== undefined)
    .map((batch) => Math.max(0, batch.committedAt! - batch.ackAt!))
  const ackLatency = measured.map((batch) => batch.ackAt! - batch.sentAt)
  const readTime = reads.reduce((sum, read) => sum + read.answeredAt - read.askedAt, 0)
  return {
    batches: batches.filter((batch) => batch.due >= windowStart).length,
    unsent: totalBatches - next,
    failures,
    achievedRate: (measured.length * plan.batchSize) / ((lastAck - windowStart) / 1000),
    rollupPoll: { ...summary(seenAfterAck), unseen },
    projectionCommit: summary(committedAfterAck),
    acknowledgement: { p50: percentile(ackLatency, 50), p99: percentile(ackLatency, 99) },
    pacerLateP99: percentile(
      batches.map((batch) => batch.sentAt - batch.due),
      99,
    ),
    maxInFlight,
    stalls,
    rollupReads: reads.length,
    rollupReadMs: reads.length > 0 ? readTime / reads.length : Number.NaN,
    usage,
  }
}
