import { Counter, Gauge, type Registry } from 'prom-client'
import type { ProjectionStatus } from './projectionWorker.ts'

/** One projection's health, as `/readyz`, `hourglass status` and the dashboard tell it. */
export interface ProjectionHealth {
  readonly projection: string
  readonly key: string
  readonly lag: number
  readonly quarantined: number
  /** Its batches fail and are being retried: nothing moves until they succeed. */
  readonly stalled: boolean
  readonly stalledSince: string | null
  readonly lastError: string | null
}

export interface Readiness {
  /** False while a projection is stalled or lags past the bound. */
  readonly ready: boolean
  /** Why not, one line each; empty when ready. */
  readonly reasons: readonly string[]
  readonly projections: readonly ProjectionHealth[]
}

export const healthOf = (status: ProjectionStatus): ProjectionHealth => ({
  projection: status.projection,
  key: status.key,
  lag: status.lag,
  quarantined: status.quarantined,
  stalled: status.stalledSince !== null,
  stalledSince: status.stalledSince,
  lastError: status.lastError,
})

/**
 * Readiness from where the projections stand: degraded while any is stalled, or lags more than
 * `maxLag` records behind the log. Quarantined records do not make it unready (the projection
 * goes on without them); they are counted for operators to see.
 */
export function readinessOf(statuses: readonly ProjectionStatus[], bounds: { maxLag: number }): Readiness {
  const projections = statuses.map(healthOf)
  const reasons: string[] = []
  for (const health of projections) {
    if (health.stalled)
      reasons.push(`${health.key} stalled since ${health.stalledSince}: ${health.lastError}`)
    if (health.lag > bounds.maxLag)
      reasons.push(`${health.key} lags ${health.lag} records behind the log (bound ${bounds.maxLag})`)
  }
  return { ready: reasons.length === 0, reasons, projections }
}

/** Prometheus metrics of the projections' lag, failures and quarantine, read from `status` at each scrape. */
export function registerProjectionMetrics(
  registry: Registry,
  status: () => Promise<readonly ProjectionStatus[]>,
): void {
  let scrape: Promise<readonly ProjectionStatus[]> | null = null
  // One status read per scrape, shared by the metrics below.
  const statuses = () => {
    scrape ??= status().finally(() => {
      setImmediate(() => {
        scrape = null
      })
    })
    return scrape
  }
  /** Sets a metric afresh from every projection's status. */
  const perProjection = async (metric: { reset(): void }, each: (status: ProjectionStatus) => void) => {
    const all = await statuses()
    metric.reset()
    for (const s of all) each(s)
  }
  new Gauge({
    name: 'hourglass_projection_lag_records',
    help: 'records of the log a projection has not applied yet',
    labelNames: ['projection'],
    registers: [registry],
    async collect() {
      await perProjection(this, (s) => this.set({ projection: s.key }, s.lag))
    },
  })
  new Gauge({
    name: 'hourglass_projection_quarantined_records',
    help: 'records set aside because the projection cannot apply them, not yet re-driven or dropped',
    labelNames: ['projection'],
    registers: [registry],
    async collect() {
      await perProjection(this, (s) => this.set({ projection: s.key }, s.quarantined))
    },
  })
  new Gauge({
    name: 'hourglass_projection_stalled',
    help: '1 while the projection’s batches fail and are retried, else 0',
    labelNames: ['projection'],
    registers: [registry],
    async collect() {
      await perProjection(this, (s) => this.set({ projection: s.key }, s.stalledSince === null ? 0 : 1))
    },
  })
  new Counter({
    name: 'hourglass_projection_batch_failures_total',
    help: 'failed attempts at projection batches since the worker started (each retried)',
    labelNames: ['projection'],
    registers: [registry],
    async collect() {
      await perProjection(this, (s) => this.inc({ projection: s.key }, s.failures))
    },
  })
}
