import { describe, expect, it } from 'vitest'
import { readinessOf } from './projectionHealth.ts'
import type { ProjectionStatus } from './projectionWorker.ts'

const status = (key: string, fields: Partial<ProjectionStatus> = {}): ProjectionStatus => ({
  projection: key.split('@')[0]!,
  key,
  generation: 0,
  committed: 100,
  head: 100,
  lag: 0,
  running: true,
  building: null,
  lastError: null,
  stalledSince: null,
  quarantined: 0,
  failures: 0,
  ...fields,
})

describe('readiness from where the projections stand', () => {
  it('is ready when every projection moves and is within the lag bound, quarantined records included', () => {
    const readiness = readinessOf(
      [status('events@v1', { quarantined: 3 }), status('receipts@v1', { lag: 100 })],
      {
        maxLag: 100,
      },
    )
    expect(readiness).toMatchObject({ ready: true, reasons: [] })
    expect(readiness.projections.map((p) => [p.key, p.quarantined, p.stalled])).toEqual([
      ['events@v1', 3, false],
      ['receipts@v1', 0, false],
    ])
  })

  it('is degraded while a projection is stalled, naming it, since when and why', () => {
    const readiness = readinessOf(
      [
        status('events@v1', { stalledSince: '2026-12-04T10:00:00.000Z', lastError: 'the warehouse is away' }),
        status('receipts@v1'),
      ],
      { maxLag: 100_000 },
    )
    expect(readiness.ready).toBe(false)
    expect(readiness.reasons).toEqual([
      'events@v1 stalled since 2026-12-04T10:00:00.000Z: the warehouse is away',
    ])
    expect(readiness.projections[0]).toMatchObject({ stalled: true, lastError: 'the warehouse is away' })
  })

  it('is degraded while a projection lags past the bound', () => {
    const readiness = readinessOf([status('events@v1', { lag: 101 })], { maxLag: 100 })
    expect(readiness).toMatchObject({
      ready: false,
      reasons: ['events@v1 lags 101 records behind the log (bound 100)'],
    })
  })
})
