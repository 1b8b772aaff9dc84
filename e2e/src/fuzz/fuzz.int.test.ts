import { describe, expect, it } from 'vitest'
import { runFuzz, summaryLine } from './fuzzHourglass.ts'

/** A slice of `npm run fuzz`: the same harness, a few thousand inputs, a fixed seed. */
describe('hostile inputs on every route of the OpenAPI document', () => {
  it('get no 5xx, only errors in the standard shape, and leave every projection caught up', async () => {
    const report = await runFuzz({ count: 2000, seed: 17, seconds: 240 })
    // The findings themselves, so that a failure says which inputs did it.
    expect(report.findings).toEqual({ serverErrors: [], offShape: [], unanswered: [] })
    expect(report.stalled).toEqual([])
    for (const table of report.tables)
      expect({ ...table, missing: table.missing.slice(0, 5) }).toMatchObject({ missing: [], unexpected: [] })
    // The inputs reached the routes and valid ones went through to the warehouse.
    expect(report.routes).toBeGreaterThan(80)
    expect(report.inputs).toBeGreaterThan(500)
    expect(report.tables.reduce((sum, table) => sum + table.expected, 0)).toBeGreaterThan(0)
    expect(report.ready).toBe(true)
    expect(summaryLine(report)).toMatch(
      /0 responses 5xx, .* 0 projections stalled, 0 records unprojected, ready$/,
    )
  }, 600_000)
})
