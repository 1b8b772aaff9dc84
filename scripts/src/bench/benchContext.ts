import { projections, tables, type Warehouse } from '@hourglass/projections'
import type { EmbeddedRuntime } from '../embeddedRuntime.ts'
import type { BenchAccount, HourglassApi } from './hourglassApi.ts'
import { sleep } from './loopbackClient.ts'
import type { RssSampler, WarehouseProbe } from './measures.ts'
import type { ProducerPool } from './producerPool.ts'

/** Progress lines go to stderr, so long phases are not silent and stdout keeps only the report. */
export interface Progress {
  phase(name: string): void
  note(message: string): void
  /** Prints `line()` every `ms` until the returned function is called. */
  every(ms: number, line: () => string): () => void
}

export function createProgress(): Progress {
  const startedAt = performance.now()
  let current = 'setup'
  const note = (message: string) => {
    const seconds = ((performance.now() - startedAt) / 1000).toFixed(1).padStart(6)
    process.stderr.write(`[bench ${seconds}s] ${current}: ${message}\n`)
  }
  return {
    phase(name) {
      current = name
      note('started')
    },
    note,
    every(ms, line) {
      const timer = setInterval(() => note(line()), ms)
      timer.unref()
      return () => clearInterval(timer)
    },
  }
}

export interface BenchContext {
  readonly runtime: EmbeddedRuntime
  /** Account and source set-up. */
  readonly api: HourglassApi
  /** Producers: build and send event batches from a thread of their own. */
  readonly producers: ProducerPool
  /** An analyst: reads rollups on connections of its own, so reads never queue behind sends in the client. */
  readonly reader: HourglassApi
  /** The account that owns every source the benchmark writes to and reads. */
  readonly account: BenchAccount
  readonly probe: WarehouseProbe
  readonly rss: RssSampler
  readonly progress: Progress
}

/** Waits (at most `timeoutMs`) until every projection has applied the whole log, so phases do not overlap. */
export async function projectionsSettled(runtime: EmbeddedRuntime, timeoutMs: number): Promise<boolean> {
  const head = await runtime.telemetry.head()
  const abort = new AbortController()
  // The timer is cleared once settled: a pending one would hold the process open after the report.
  const timeout = setTimeout(() => abort.abort(), timeoutMs)
  try {
    for (const projection of projections) await runtime.worker.caughtUp(projection.name, [head], abort.signal)
    return true
  } catch {
    return false
  } finally {
    clearTimeout(timeout)
  }
}

/**
 * Polls `check` every `intervalMs` until it is true or `timeoutMs` has passed; returns the
 * `performance.now()` when the successful check had its answer, or null on timeout.
 */
export async function pollUntil(
  check: () => Promise<boolean>,
  intervalMs: number,
  timeoutMs: number,
): Promise<number | null> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    const askedAt = performance.now()
    if (await check()) return performance.now()
    await sleep(intervalMs - (performance.now() - askedAt))
  }
  return null
}

/** How often both the direct baseline and the end-to-end runs look whether their rows are in the rollup yet. */
export const VISIBLE_POLL_MS = 5

/**
 * Events of a source counted in the hourly rollup of `database`. The direct baseline and the
 * end-to-end runs wait on this same read, at the same pace, so neither figure carries a costlier
 * check than the other (reading the rollup through the query API is measured on its own).
 */
export async function eventsInRollup(
  warehouse: Warehouse,
  database: string,
  sourceId: string,
): Promise<number> {
  const result = await warehouse.client.query({
    query: `SELECT sum(events) AS events FROM ${database}.${tables.rollupHourly} WHERE source_id = {sourceId:String}`,
    query_params: { sourceId },
    format: 'JSONEachRow',
  })
  const [row] = (await result.json()) as { events: string | number }[]
  return Number(row?.events ?? 0)
}
