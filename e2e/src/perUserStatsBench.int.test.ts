import {
  createPerUserStatsBench,
  createTheEyeFreshnessBench,
  PER_USER_STATS_PLAN,
} from '@hourglass/scripts/bench'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

let hg: TestHourglass
beforeAll(async () => {
  hg = await startTestHourglass()
})
afterAll(() => hg?.close())

describe('the app-analytics bench phases', () => {
  let url: string
  beforeAll(async () => {
    url = await hg.runtime.app.listen({ port: 0, host: '127.0.0.1' })
  })

  it('loads a source, reads its statistics both ways, and finds the answers equal (a small run)', async () => {
    const phase = createPerUserStatsBench({
      ...PER_USER_STATS_PLAN,
      events: 5_000,
      users: 40,
      appendBatch: 1_500,
      httpQueries: 3,
      rawQueries: 2,
      warmupQueries: 1,
    })
    const figures = await phase({ ...hg.runtime, url })
    const byName = new Map(figures.map((f) => [f.name, f]))
    expect(byName.get('both answers equal')).toMatchObject({ value: 1, meets: true })
    expect(byName.get('users in the answer')?.value).toBe(40)
    expect(byName.get('events in the app source')?.value).toBe(5_000)
  })

  it('measures how soon an accepted The Eye event is listed', async () => {
    const figures = await createTheEyeFreshnessBench(10)({ ...hg.runtime, url })
    expect(figures.find((f) => f.name === 'events added, one at a time')?.value).toBe(10)
    expect(figures.map((f) => f.name)).toContain('from 201 to listed: p99')
    expect(figures.every((f) => Number.isFinite(f.value))).toBe(true)
  })
})
