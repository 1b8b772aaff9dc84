import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

let hg: TestHourglass
beforeAll(async () => {
  hg = await startTestHourglass()
})
afterAll(() => hg?.close())

const HOUR = 3600_000
const base = Date.UTC(2026, 10, 20, 0, 0, 0)

describe('embedded pipeline: HTTP → log → projection → ClickHouse → query', () => {
  it('counts an event in the hourly rollup of its own event-time hour, late and out-of-order events included', async () => {
    const { token } = await hg.signUp()
    const source = await hg.createSource(token)
    // Sent in this order: hour 5, hour 2 (late), hour 5 again, hour 0 (very late), hour 2.
    const events = [
      { name: 'view', timestamp: new Date(base + 5 * HOUR + 10_000).toISOString(), subject: 'u1' },
      { name: 'view', timestamp: base + 2 * HOUR + 59 * 60_000, subject: 'u2' },
      { name: 'view', timestamp: base + 5 * HOUR + 3599_999, subject: 'u1' },
      { name: 'buy', timestamp: base, subject: 'u3', attrs: { price: 10.5 } },
      { name: 'view', timestamp: base + 2 * HOUR, subject: 'u3' },
    ]
    for (const event of events) {
      const response = await hg.request('POST', '/v1/events', {
        token: source.apiToken,
        body: { events: [event] },
      })
      expect(response.statusCode).toBe(200)
    }
    await hg.settled()
    const response = await hg.request(
      'GET',
      `/v1/sources/${source.id}/rollups/hourly?from=${base}&to=${base + 24 * HOUR}`,
      { token },
    )
    expect(response.statusCode).toBe(200)
    expect(response.json().rows).toEqual([
      { hour: new Date(base).toISOString(), name: 'buy', events: 1, subjects: 1, sessions: 0 },
      { hour: new Date(base + 2 * HOUR).toISOString(), name: 'view', events: 2, subjects: 2, sessions: 0 },
      { hour: new Date(base + 5 * HOUR).toISOString(), name: 'view', events: 2, subjects: 1, sessions: 0 },
    ])
    const byName = await hg.request(
      'GET',
      `/v1/sources/${source.id}/rollups/hourly?from=${base}&to=${base + 24 * HOUR}&name=buy`,
      { token },
    )
    expect(byName.json().rows).toHaveLength(1)
  })

  it('pages through raw events in event-time order', async () => {
    const { token } = await hg.signUp()
    const source = await hg.createSource(token)
    const events = Array.from({ length: 7 }, (_, i) => ({
      id: `evt-${i}`,
      name: i % 2 ? 'odd' : 'even',
      timestamp: base + (7 - i) * 60_000,
      attrs: { i },
    }))
    expect(
      (await hg.request('POST', '/v1/events', { token: source.apiToken, body: { events } })).statusCode,
    ).toBe(200)
    await hg.settled()
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const query = `from=${base}&to=${base + HOUR}&limit=3${cursor ? `&cursor=${cursor}` : ''}`
      const response = await hg.request('GET', `/v1/sources/${source.id}/events?${query}`, { token })
      expect(response.statusCode).toBe(200)
      const body = response.json()
      seen.push(...body.events.map((e: { id: string }) => e.id))
      cursor = body.nextCursor
      pages++
    } while (cursor)
    expect(pages).toBe(3)
    expect(seen).toEqual(['evt-6', 'evt-5', 'evt-4', 'evt-3', 'evt-2', 'evt-1', 'evt-0'])
    const one = await hg.request(
      'GET',
      `/v1/sources/${source.id}/events?from=${base}&to=${base + HOUR}&name=odd&limit=1`,
      {
        token,
      },
    )
    expect(one.json().events[0]).toMatchObject({ id: 'evt-5', name: 'odd', attrs: { i: 5 } })
  })
})
