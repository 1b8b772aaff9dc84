import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { STORE_STATS as C, compatPerson } from './harness/featureFlows.ts'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

/**
 * Seed 001 as its own clients use it, through the original gateway's canonical paths (with
 * their trailing slashes) and the seed's: a store that signs in with its API key, registers its
 * users, records their events and reads its daily statistics, knowing nothing of /v1.
 */

const DAY = 24 * 3600_000
const day0 = Date.UTC(2026, 2, 2)
const dateOf = (ms: number) => new Date(ms).toISOString().slice(0, 10)

let hg: TestHourglass
let admin: string
let store: { number: number; apiKey: string; token: string }
const ids: Record<string, string> = {}

/** A request of the store with its access token. */
const storeCall = (method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown) =>
  hg.request(method, `${C}${url}`, { token: store.token, ...(body === undefined ? {} : { body }) })

/** Per day, newest first: how many events, and how many distinct users had one. */
const daily = (events: readonly { day: string; user: string }[]) => {
  const days = new Map<string, { events: number; users: Set<string> }>()
  for (const { day, user } of events) {
    const entry = days.get(day) ?? { events: 0, users: new Set<string>() }
    entry.events++
    entry.users.add(user)
    days.set(day, entry)
  }
  return [...days.entries()].sort(([a], [b]) => b.localeCompare(a))
}

beforeAll(async () => {
  hg = await startTestHourglass()
  // The stores' admin opens the store; its API key is all the store's back office is given.
  admin = (await hg.signUp()).token
  const created = await hg.request('POST', '/v1/stores', { token: admin, body: { name: 'Corner Shop' } })
  expect(created.statusCode).toBe(201)
  store = { number: created.json().number, apiKey: created.json().apiKey, token: '' }
})
afterAll(() => hg?.close())

describe('a seed 001 client (/compat/store-stats) that knows only the seed and its gateway', () => {
  it("signs in at the seed's own path, POST /api/auth/, with and without the trailing slash", async () => {
    for (const path of ['/api/auth/', '/api/auth']) {
      const response = await hg.request('POST', `${C}${path}`, { body: { api_key: store.apiKey } })
      expect(response.statusCode, path).toBe(200)
      expect(response.json()).toEqual({ access_token: expect.any(String), token_type: 'Bearer' })
      store.token = response.json().access_token
    }
  })

  it('registers, finds and updates users at the gateway paths, with and without the slash', async () => {
    for (const [tag, path] of [
      ['ann', '/api/user/'],
      ['bob', '/api/user'],
      ['cyd', '/api/user/'],
    ] as const) {
      const response = await storeCall('POST', path, compatPerson(tag))
      expect(response.statusCode, response.body).toBe(201)
      expect(response.json()).toMatchObject({ ...compatPerson(tag), store_id: store.number })
      ids[tag] = response.json().id
    }
    for (const path of [
      `/api/user/${compatPerson('ann').email}`,
      `/api/user/${compatPerson('ann').email}/`,
    ]) {
      expect((await storeCall('GET', path)).json()).toEqual({ id: ids.ann })
    }
    // The gateway fills store_id in from the token: a body without it is the store's own.
    const patched = await storeCall('PATCH', '/api/user/', { ...compatPerson('bob'), username: 'bobby' })
    expect(patched.statusCode, patched.body).toBe(201)
    expect(patched.json()).toEqual({ message: 'User successfully updated' })
  })

  const today: { day: string; user: string; type: string }[] = []

  it('answers avg-time as the original: events of the day divided by the users who had one', async () => {
    // Given ann with three views and a purchase, bob with one view, cyd with two views, sent today.
    const sent: [string, string][] = [
      ['ann', 'view'],
      ['bob', 'view'],
      ['ann', 'view'],
      ['cyd', 'view'],
      ['ann', 'buy'],
      ['cyd', 'view'],
      ['ann', 'view'],
    ]
    for (const [i, [user, type]] of sent.entries()) {
      const response = await storeCall('POST', i % 2 ? '/api/event' : '/api/event/', {
        type,
        user_id: ids[user],
        data: { page: `/p/${i}` },
      })
      expect(response.statusCode, response.body).toBe(201)
      expect(response.json()).toMatchObject({ type, store_id: store.number, user_id: ids[user] })
      today.push({ day: dateOf(Date.parse(response.json().created_at)), user, type })
    }
    await hg.settled()
    // Then each type's figure is its events over its distinct users, per day.
    for (const type of ['view', 'buy']) {
      const expected = daily(today.filter((e) => e.type === type))
      const avg = await storeCall('GET', `/api/event/avg-time/${type}`)
      expect(avg.statusCode, avg.body).toBe(200)
      expect(avg.json()).toEqual(
        expected.map(([date, { events, users }]) => ({ date, event_avg_time: events / users.size })),
      )
      const amount = await storeCall('GET', `/api/event/amount/${type}/`)
      expect(amount.json()).toEqual(expected.map(([date, { events }]) => ({ date, event_amount: events })))
    }
  })

  it("lists days newest first and pages them with the original's offset and limit", async () => {
    // Given five earlier days of views by a varying set of users (the back office's history).
    const history: { day: string; user: string }[] = []
    for (let d = 0; d < 5; d++) {
      for (let k = 0; k <= d; k++) {
        const user = ['ann', 'bob', 'cyd'][(d + k) % 3]!
        const timestamp = day0 + d * DAY + k * 3600_000
        const response = await hg.request('POST', '/v1/store-events', {
          token: store.token,
          body: { type: 'view', userId: ids[user], timestamp, data: { duration: d + k + 0.5 } },
        })
        expect(response.statusCode, response.body).toBe(201)
        history.push({ day: dateOf(timestamp), user })
      }
    }
    await hg.settled()
    const views = daily([...history, ...today.filter((e) => e.type === 'view')])
    const all = views.map(([date, { events, users }]) => ({ date, event_avg_time: events / users.size }))
    expect((await storeCall('GET', '/api/event/avg-time/view')).json()).toEqual(all)
    expect((await storeCall('GET', '/api/event/avg-time/view?offset=1&limit=2')).json()).toEqual(
      all.slice(1, 3),
    )
    expect((await storeCall('GET', '/api/event/avg-time/view?offset=4')).json()).toEqual(all.slice(4))
    const amounts = views.map(([date, { events }]) => ({ date, event_amount: events }))
    expect((await storeCall('GET', '/api/event/amount/view?limit=3')).json()).toEqual(amounts.slice(0, 3))
    const storeDays = daily([...history, ...today]).map(([date, { events }]) => ({
      date,
      event_amount: events,
    }))
    for (const path of [
      `/api/event/store-events-amount/${store.number}/`,
      `/api/event/store-events-amount/${store.number}`,
    ])
      expect((await storeCall('GET', `${path}?offset=2&limit=2`)).json()).toEqual(storeDays.slice(2, 4))
    // The native API keeps its own figure: the average `duration` of the day's events.
    const native = await hg.request(
      'GET',
      `/v1/store-stats/avg-time/view?from=${day0}&to=${day0 + 5 * DAY}`,
      {
        token: store.token,
      },
    )
    const durations = new Map<string, number[]>()
    for (let d = 0; d < 5; d++)
      durations.set(
        dateOf(day0 + d * DAY),
        Array.from({ length: d + 1 }, (_, k) => d + k + 0.5),
      )
    expect(native.json().days).toEqual(
      [...durations].map(([date, list]) => ({
        date,
        eventAvgTime: list.reduce((a, b) => a + b, 0) / list.length,
      })),
    )
  })

  it('lists the stores for the admin, paged with offset and limit', async () => {
    const second = await hg.request('POST', '/v1/stores', { token: admin, body: { name: 'Second Shop' } })
    expect(second.statusCode).toBe(201)
    const stores = [
      { id: store.number, name: 'Corner Shop', is_active: true },
      { id: second.json().number, name: 'Second Shop', is_active: true },
    ].sort((a, b) => a.id - b.id)
    for (const path of ['/api/store/', '/api/store'])
      expect((await hg.request('GET', `${C}${path}`, { token: admin })).json()).toEqual(stores)
    expect((await hg.request('GET', `${C}/api/store/?offset=1&limit=1`, { token: admin })).json()).toEqual(
      stores.slice(1),
    )
  })

  it('refuses a query parameter the original did not have, naming it, instead of ignoring it', async () => {
    const cases: [string, string][] = [
      ['/api/event/amount/view?from=2026-01-01', 'querystring.from'],
      ['/api/event/avg-time/view?page=2', 'querystring.page'],
      [`/api/event/store-events-amount/${store.number}/?order=asc`, 'querystring.order'],
      ['/api/event/avg-time/view?limit=0', 'querystring.limit'],
      [`/api/user/${compatPerson('ann').email}?full=1`, 'querystring.full'],
    ]
    for (const [url, path] of cases) {
      const response = await storeCall('GET', url)
      expect(response.statusCode, url).toBe(400)
      expect(response.json().error.issues.map((i: { path: string }) => i.path)).toEqual([path])
    }
    const head = await hg.runtime.telemetry.head()
    const event = await storeCall('POST', '/api/event/?async=1', { type: 'view', user_id: ids.ann, data: {} })
    expect(event.statusCode).toBe(400)
    expect(await hg.runtime.telemetry.head()).toBe(head)
  })
})
