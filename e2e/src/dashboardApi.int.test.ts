import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

const HOUR = 3600_000
const DAY = 24 * HOUR
/** 10:00 to 12:00 UTC yesterday: every event of these tests falls in these two hours of one day. */
const hour = Math.floor(Date.now() / DAY) * DAY - DAY + 10 * HOUR
const range = `from=${hour}&to=${hour + 2 * HOUR}`

let hg: TestHourglass
let analyst: Awaited<ReturnType<TestHourglass['signUp']>>

beforeAll(async () => {
  hg = await startTestHourglass()
  analyst = await hg.signUp()
})
afterAll(() => hg?.close())

const get = async (url: string, token = analyst.token) => {
  const response = await hg.request('GET', url, { token })
  return { status: response.statusCode, body: response.json() }
}
const post = async (url: string, token: string, body: unknown, status = 200) => {
  const response = await hg.request('POST', url, { token, body })
  expect(response.statusCode, response.body).toBe(status)
  return response.json()
}

describe('the reads behind the dashboard', () => {
  it('tells how fresh a source is: nothing before its first event, then its newest event', async () => {
    const app = await hg.createSource(analyst.token, 'app')
    const before = await get(`/v1/sources/${app.id}/freshness`)
    expect(before.status).toBe(200)
    expect(before.body).toMatchObject({ newestEventAt: null, lastReceivedAt: null, records: 0 })
    expect(before.body.projections.map((p: { projection: string }) => p.projection)).toContain('events')

    await post('/v1/events', app.apiToken, {
      events: [
        { name: 'open', timestamp: hour + 5 * 60_000 },
        { name: 'open', timestamp: hour + 65 * 60_000 },
      ],
    })
    await hg.settled()
    const after = await get(`/v1/sources/${app.id}/freshness`)
    expect(after.body).toMatchObject({
      newestEventAt: new Date(hour + 65 * 60_000).toISOString(),
      records: 2,
      lag: 0,
    })
    expect(Date.parse(after.body.lastReceivedAt)).toBeGreaterThan(Date.now() - 60_000)
  })

  it('counts distinct users per hour across names, and the busiest names', async () => {
    const app = await hg.createSource(analyst.token, 'app')
    const at = (minutes: number) => hour + minutes * 60_000
    await post('/v1/events', app.apiToken, {
      events: [
        { name: 'view', timestamp: at(1), subject: 'ann' },
        { name: 'view', timestamp: at(2), subject: 'bob' },
        { name: 'view', timestamp: at(3), subject: 'ann' },
        { name: 'buy', timestamp: at(4), subject: 'ann' },
        { name: 'buy', timestamp: at(5), subject: 'cem' },
        { name: 'view', timestamp: at(61), subject: 'bob' },
      ],
    })
    await hg.settled()
    const { status, body } = await get(`/v1/sources/${app.id}/overview?${range}`)
    expect(status).toBe(200)
    expect(body.hours).toEqual([
      { hour: new Date(hour).toISOString(), events: 5, users: 3 },
      { hour: new Date(hour + HOUR).toISOString(), events: 1, users: 1 },
    ])
    expect(body.names).toEqual([
      { name: 'view', events: 4, users: 2 },
      { name: 'buy', events: 2, users: 2 },
    ])
    expect(body.byName).toEqual([
      { hour: new Date(hour).toISOString(), name: 'buy', events: 2 },
      { hour: new Date(hour).toISOString(), name: 'view', events: 3 },
      { hour: new Date(hour + HOUR).toISOString(), name: 'view', events: 1 },
    ])
  })

  it("reads a store's daily statistics and its overview with the account token", async () => {
    const store = (await post('/v1/stores', analyst.token, { name: 'Shop' }, 201)) as {
      id: string
      apiKey: string
    }
    const { accessToken } = await post('/v1/stores/auth', '', { apiKey: store.apiKey })
    const person = await post(
      '/v1/people',
      accessToken,
      { email: 'p@example.com', username: 'p', firstName: 'P', lastName: 'Q', phone: '+1 555 0100' },
      201,
    )
    for (const [type, data] of [
      ['view', { duration: 10 }],
      ['view', { duration: 30 }],
      ['view', {}],
      ['buy', {}],
    ] as const) {
      await post(
        '/v1/store-events',
        accessToken,
        { type, userId: person.id, data, timestamp: hour + 60_000 },
        201,
      )
    }
    await hg.settled()
    const day = new Date(hour).toISOString().slice(0, 10)
    const daily = await get(`/v1/sources/${store.id}/store-stats/daily?${range}`)
    expect(daily.body.days).toEqual([
      { date: day, type: 'buy', events: 1, timedEvents: 0, averageDuration: null },
      { date: day, type: 'view', events: 3, timedEvents: 2, averageDuration: 20 },
    ])
    const overview = await get(`/v1/sources/${store.id}/overview?${range}`)
    expect(overview.body.hours).toEqual([{ hour: new Date(hour).toISOString(), events: 4, users: 1 }])
    expect((await get(`/v1/sources/${store.id}/device-series`)).status).toBe(409)
  })

  it("charts a fleet's metric over time, per bucket and per device", async () => {
    const fleet = await hg.createSource(analyst.token, 'device')
    for (const device of ['d1', 'd2']) {
      const bound = await hg.request('PUT', `/v1/sources/${fleet.id}/devices/${device}/owner`, {
        token: analyst.token,
        body: { userId: null, effectiveFrom: hour - HOUR },
      })
      expect(bound.statusCode, bound.body).toBe(200)
    }
    const readings = [
      { deviceId: 'd1', timestamp: hour + 60_000, metrics: { temperature: 10, humidity: 50 } },
      { deviceId: 'd2', timestamp: hour + 120_000, metrics: { temperature: 20 } },
      { deviceId: 'd1', timestamp: hour + HOUR + 60_000, metrics: { temperature: 30 } },
    ]
    await post('/v1/readings', fleet.apiToken, { readings })
    await hg.settled()
    const hourly = await get(`/v1/sources/${fleet.id}/device-series?metric=temperature&${range}`)
    expect(hourly.body).toMatchObject({
      metric: 'temperature',
      metrics: ['humidity', 'temperature'],
      devices: ['d1', 'd2'],
    })
    // The median and p95 of two readings are one of them (t-digest ranks, as in the device summaries).
    expect(hourly.body.points).toEqual([
      { time: new Date(hour).toISOString(), count: 2, min: 10, mean: 15, max: 20, median: 10, p95: 20 },
      {
        time: new Date(hour + HOUR).toISOString(),
        count: 1,
        min: 30,
        mean: 30,
        max: 30,
        median: 30,
        p95: 30,
      },
    ])
    const daily = await get(
      `/v1/sources/${fleet.id}/device-series?metric=temperature&device=d1&bucket=24&${range}`,
    )
    expect(daily.body.points).toHaveLength(1)
    expect(daily.body.points[0]).toMatchObject({ count: 2, min: 10, mean: 20, max: 30 })
    const overview = await get(`/v1/sources/${fleet.id}/overview?${range}`)
    expect(overview.body.names).toEqual([
      { name: 'temperature', events: 3, users: 2 },
      { name: 'humidity', events: 1, users: 1 },
    ])
  })

  it("answers 404 for another account's source and 401 without a token", async () => {
    const app = await hg.createSource(analyst.token, 'app')
    const other = await hg.signUp()
    for (const path of [
      'freshness',
      'overview',
      'store-stats/daily',
      'device-series',
      'events?subject=ann',
    ]) {
      expect((await get(`/v1/sources/${app.id}/${path}`, other.token)).status).toBe(404)
      expect((await hg.request('GET', `/v1/sources/${app.id}/${path}`)).statusCode).toBe(401)
    }
  })

  it('filters raw events by person (subject)', async () => {
    const app = await hg.createSource(analyst.token, 'app')
    await post('/v1/events', app.apiToken, {
      events: [
        { id: 'e1', name: 'open', timestamp: hour + 1000, subject: 'ann' },
        { id: 'e2', name: 'open', timestamp: hour + 2000, subject: 'bob' },
        { id: 'e3', name: 'open', timestamp: hour + 3000, subject: 'ann' },
      ],
    })
    await hg.settled()
    const { body } = await get(`/v1/sources/${app.id}/events?subject=ann&${range}`)
    expect(body.events.map((e: { id: string }) => e.id)).toEqual(['e1', 'e3'])
  })
})
