import { replayEmbedded } from '@hourglass/scripts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { productView, TRACKING_PLAN } from './harness/featureFlows.ts'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

let hg: TestHourglass
beforeAll(async () => {
  hg = await startTestHourglass({ HOURGLASS_PROJECTION_BATCH_SIZE: '7' })
})
afterAll(() => hg?.close())

const HOUR = 3600_000
const base = Date.UTC(2026, 10, 2)

const PLAN = TRACKING_PLAN

/** An account with an app source whose tracking plan is PLAN. */
const appWithPlan = async () => {
  const { token } = await hg.signUp()
  const source = await hg.createSource(token, 'app')
  const defined = await hg.request('POST', `/v1/sources/${source.id}/event-definitions`, {
    token,
    body: PLAN,
  })
  expect(defined.statusCode, defined.body).toBe(201)
  const codes = Object.fromEntries(
    defined.json().definitions.map((d: { name: string; eventCode: string }) => [d.name, d.eventCode]),
  ) as Record<string, string>
  return { token, source, codes }
}

const view = (subject: string, product: string, quantity: number, timestamp = base, extra = {}) =>
  productView(subject, product, quantity, timestamp, extra)

const post = (apiToken: string, events: unknown[]) =>
  hg.request('POST', '/v1/events', { token: apiToken, body: { events } })

describe('event definitions (a tracking plan)', () => {
  it('gives each event a stable code, lists the plan, and keeps a code when the same event is defined again', async () => {
    const { token, source, codes } = await appWithPlan()
    expect(codes.product_view).toMatch(/^product_view-[0-9a-f-]{36}$/)
    const listed = await hg.request('GET', `/v1/sources/${source.id}/event-definitions`, { token })
    expect(listed.json().definitions).toEqual([
      expect.objectContaining({
        name: 'product_view',
        eventCode: codes.product_view,
        statistics: { keyAttribute: 'product', amountAttribute: 'quantity' },
      }),
      expect.objectContaining({
        name: 'app_open',
        statistics: { keyAttribute: 'screen', amountAttribute: null },
      }),
      expect.objectContaining({
        name: 'purchase',
        statistics: { keyAttribute: null, amountAttribute: 'total' },
      }),
    ])
    const again = await hg.request('POST', `/v1/sources/${source.id}/event-definitions`, {
      token,
      body: PLAN,
    })
    expect(again.json().definitions.map((d: { eventCode: string }) => d.eventCode)).toEqual(
      Object.values(codes),
    )
    const changed = await hg.request('POST', `/v1/sources/${source.id}/event-definitions`, {
      token,
      body: {
        events: [{ name: 'new_one' }, { name: 'purchase', attrs: [{ name: 'total', type: 'number' }] }],
      },
    })
    expect(changed.statusCode).toBe(409)
    // All or none: the new event of the refused request was not defined either.
    const after = await hg.request('GET', `/v1/sources/${source.id}/event-definitions`, { token })
    expect(after.json().definitions).toHaveLength(3)
  })

  it('refuses an event of a defined name with an unknown, a missing or a mistyped attribute, naming it', async () => {
    const { source } = await appWithPlan()
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [
        { product: 'a', quantity: 1, price: 1, logged_in: true, colour: 'red' },
        'attrs.colour',
        /is not an attribute/,
      ],
      [{ product: 'a', quantity: 1, price: 1 }, 'attrs.logged_in', /is missing.*boolean/],
      [
        { product: 'a', quantity: '1', price: 1, logged_in: true },
        'attrs.quantity',
        /must be an integer.*not string/,
      ],
      [
        { product: 'a', quantity: 1.5, price: 1, logged_in: true },
        'attrs.quantity',
        /must be an integer.*not number/,
      ],
      [{ product: 7, quantity: 1, price: 1, logged_in: true }, 'attrs.product', /must be a string/],
      [{ product: 'a', quantity: 1, price: 'x', logged_in: true }, 'attrs.price', /must be a number/],
      [{ product: 'a', quantity: 1, price: 1, logged_in: 'yes' }, 'attrs.logged_in', /must be a boolean/],
      [{ product: null, quantity: 1, price: 1, logged_in: true }, 'attrs.product', /not null/],
    ]
    for (const [attrs, path, reason] of cases) {
      const before = await hg.runtime.telemetry.head()
      const response = await post(source.apiToken, [{ name: 'product_view', timestamp: base, attrs }])
      expect(response.statusCode).toBe(400)
      const issue = response.json().error.issues.find((i: { path: string }) => i.path === `events[0].${path}`)
      expect(issue?.message, JSON.stringify(attrs)).toMatch(reason)
      expect(await hg.runtime.telemetry.head()).toBe(before)
    }
    const good = await post(source.apiToken, [view('u', 'a', 1), { name: 'not_defined', timestamp: base }])
    expect(good.json()).toMatchObject({ accepted: 2 })
  })

  it('refuses undefined event names when the source is strict, and takes them again when open', async () => {
    const { token, source } = await appWithPlan()
    const strict = await hg.request('PUT', `/v1/sources/${source.id}/settings`, {
      token,
      body: { undefinedEvents: 'reject' },
    })
    expect(strict.json()).toEqual({ undefinedEvents: 'reject', unknownSessions: 'accept' })
    const refused = await post(source.apiToken, [{ name: 'typo_view', timestamp: base }])
    expect(refused.statusCode).toBe(400)
    expect(refused.json().error.issues[0]).toMatchObject({ path: 'events[0].name' })
    expect((await post(source.apiToken, [view('u', 'a', 1)])).statusCode).toBe(200)
    await hg.request('PUT', `/v1/sources/${source.id}/settings`, {
      token,
      body: { undefinedEvents: 'accept' },
    })
    expect((await post(source.apiToken, [{ name: 'typo_view', timestamp: base }])).statusCode).toBe(200)
    const settings = await hg.request('GET', `/v1/sources/${source.id}/settings`, { token })
    expect(settings.json()).toEqual({ undefinedEvents: 'accept', unknownSessions: 'accept' })
    const bad = await hg.request('PUT', `/v1/sources/${source.id}/settings`, {
      token,
      body: { undefinedEvents: 'maybe' },
    })
    expect(bad.statusCode).toBe(400)
    expect(bad.json().error.issues[0].path).toBe('undefinedEvents')
  })
})

describe('per-user statistics', () => {
  it('sums the first integer attribute per user and value of the first string attribute, from a projection', async () => {
    // Given three users viewing products with quantities, over several hours and batches.
    const { token, source, codes } = await appWithPlan()
    const sent: [string, string, number, number][] = []
    const products = ['resistor', 'diode', 'transistor']
    for (let i = 0; i < 60; i++) {
      sent.push([`user-${i % 3}`, products[(i * 7) % 3]!, (i * 13) % 17, base + (i % 5) * HOUR + i * 1000])
    }
    for (let i = 0; i < sent.length; i += 20) {
      const response = await post(
        source.apiToken,
        sent.slice(i, i + 20).map(([user, product, quantity, at]) => view(user, product, quantity, at)),
      )
      expect(response.json().accepted).toBe(20)
    }
    // And events that must not count: another event name, and an event without a user.
    await post(source.apiToken, [
      { name: 'app_open', timestamp: base, subject: 'user-0', attrs: { screen: 'home' } },
      {
        name: 'product_view',
        timestamp: base,
        attrs: { product: 'diode', quantity: 99, price: 1, logged_in: false },
      },
    ])
    await hg.settled()

    // When the statistics are read. Then each user's sums match what was sent.
    const expected = new Map<string, Record<string, number>>()
    for (const [user, product, quantity] of sent) {
      const values = expected.get(user) ?? {}
      values[product] = (values[product] ?? 0) + quantity
      expected.set(user, values)
    }
    const url = `/v1/sources/${source.id}/event-definitions/${codes.product_view}/user-stats`
    const stats = await hg.request('GET', url, { token })
    expect(stats.statusCode).toBe(200)
    expect(stats.json()).toMatchObject({
      name: 'product_view',
      keyAttribute: 'product',
      amountAttribute: 'quantity',
    })
    expect(stats.json().users).toEqual(
      [...expected.keys()].sort().map((user) => ({ user, values: expected.get(user) })),
    )

    // And from/to select whole hours; pages follow users in order.
    const ranged = await hg.request('GET', `${url}?from=${base + HOUR + 1}&to=${base + 3 * HOUR}`, { token })
    const inRange = sent.filter(([, , , at]) => at >= base + HOUR && at < base + 3 * HOUR)
    const rangedTotal = ranged
      .json()
      .users.flatMap((u: { values: Record<string, number> }) => Object.values(u.values))
      .reduce((a: number, b: number) => a + b, 0)
    expect(rangedTotal).toBe(inRange.reduce((sum, [, , quantity]) => sum + quantity, 0))
    const page1 = await hg.request('GET', `${url}?limit=2`, { token })
    expect(page1.json().users.map((u: { user: string }) => u.user)).toEqual(['user-0', 'user-1'])
    const page2 = await hg.request('GET', `${url}?limit=2&cursor=${page1.json().nextCursor}`, { token })
    expect(page2.json()).toMatchObject({ users: [{ user: 'user-2' }], nextCursor: null })

    // And a replay of the projection from the log gives the same answer.
    await replayEmbedded(hg.runtime, 'user-stats')
    expect((await hg.request('GET', url, { token })).json()).toEqual(stats.json())
  })

  it('counts events under the key when there is no integer attribute, and under the name when no string one', async () => {
    const { token, source, codes } = await appWithPlan()
    await post(source.apiToken, [
      { name: 'app_open', timestamp: base, subject: 'u1', attrs: { screen: 'home' } },
      { name: 'app_open', timestamp: base, subject: 'u1', attrs: { screen: 'home' } },
      { name: 'app_open', timestamp: base, subject: 'u1', attrs: { screen: 'cart' } },
      { name: 'purchase', timestamp: base, subject: 'u1', attrs: { total: 120 } },
      { name: 'purchase', timestamp: base, subject: 'u2', attrs: { total: 30 } },
      { name: 'purchase', timestamp: base + HOUR, subject: 'u2', attrs: { total: 5 } },
    ])
    await hg.settled()
    const read = async (code: string) =>
      (
        await hg.request('GET', `/v1/sources/${source.id}/event-definitions/${code}/user-stats`, { token })
      ).json().users
    expect(await read(codes.app_open!)).toEqual([{ user: 'u1', values: { cart: 1, home: 2 } }])
    expect(await read(codes.purchase!)).toEqual([
      { user: 'u1', values: { purchase: 120 } },
      { user: 'u2', values: { purchase: 35 } },
    ])
  })

  it("answers 404 for another account's source and an unknown event code", async () => {
    const { source, codes } = await appWithPlan()
    const other = await hg.signUp()
    const url = `/v1/sources/${source.id}/event-definitions/${codes.product_view}/user-stats`
    expect((await hg.request('GET', url, { token: other.token })).statusCode).toBe(404)
    const mine = await appWithPlan()
    expect(
      (
        await hg.request('GET', `/v1/sources/${mine.source.id}/event-definitions/nope/user-stats`, {
          token: mine.token,
        })
      ).statusCode,
    ).toBe(404)
    const badRange = await hg.request(
      'GET',
      `/v1/sources/${mine.source.id}/event-definitions/${mine.codes.purchase}/user-stats?from=2026-02-01&to=2026-01-01`,
      { token: mine.token },
    )
    expect(badRange.statusCode).toBe(400)
  })
})

describe('sessions', () => {
  it('creates sessions with either token, lists them a page at a time, and refuses a taken id', async () => {
    const { token, source } = await appWithPlan()
    const byAccount = await hg.request('POST', `/v1/sources/${source.id}/sessions`, { token })
    expect(byAccount.statusCode).toBe(201)
    const byProducer = await hg.request('POST', '/v1/sessions', {
      token: source.apiToken,
      body: { id: 'device-1:42' },
    })
    expect(byProducer.json()).toMatchObject({ id: 'device-1:42' })
    const taken = await hg.request('POST', '/v1/sessions', {
      token: source.apiToken,
      body: { id: 'device-1:42' },
    })
    expect(taken.statusCode).toBe(409)
    const third = await hg.request('POST', '/v1/sessions', {
      token: source.apiToken,
      headers: { 'content-type': 'application/json' },
    })
    expect(third.statusCode).toBe(201)
    const first = await hg.request('GET', `/v1/sources/${source.id}/sessions?limit=2`, { token })
    const second = await hg.request(
      'GET',
      `/v1/sources/${source.id}/sessions?limit=2&cursor=${first.json().nextCursor}`,
      {
        token,
      },
    )
    expect([...first.json().sessions, ...second.json().sessions].map((s: { id: string }) => s.id)).toEqual([
      byAccount.json().id,
      'device-1:42',
      third.json().id,
    ])
    expect(second.json().nextCursor).toBeNull()
  })

  it('refuses events of unknown sessions when the source registers sessions', async () => {
    const { token, source } = await appWithPlan()
    await hg.request('PUT', `/v1/sources/${source.id}/settings`, {
      token,
      body: { unknownSessions: 'reject' },
    })
    const session = (await hg.request('POST', '/v1/sessions', { token: source.apiToken })).json().id
    const before = await hg.runtime.telemetry.head()
    const refused = await post(source.apiToken, [view('u', 'a', 1, base, { session: 'made-up' })])
    expect(refused.statusCode).toBe(400)
    expect(refused.json().error.issues[0]).toMatchObject({ path: 'events[0].session' })
    expect(await hg.runtime.telemetry.head()).toBe(before)
    expect((await post(source.apiToken, [view('u', 'a', 1, base, { session })])).statusCode).toBe(200)
  })
})

describe('raw events: filters, pages and one by id', () => {
  it('filters by category, name, session and time, pages with a cursor, and finds an event by id', async () => {
    const { token, source } = await appWithPlan()
    const events = Array.from({ length: 12 }, (_, i) => ({
      id: `e-${i}`,
      name: i % 2 ? 'click' : 'scroll',
      category: i % 3 ? 'page interaction' : 'navigation',
      session: `s-${i % 4}`,
      timestamp: base + i * 60_000,
      attrs: { i, element: { tag: 'button', classes: ['cta', `n${i}`] } },
    }))
    expect((await post(source.apiToken, events)).statusCode).toBe(200)
    await hg.settled()
    const ids = async (query: string) => {
      const seen: string[] = []
      let cursor: string | null = null
      const range = query.includes('from=') ? '' : `from=${base}&to=${base + HOUR}&`
      do {
        const page = await hg.request(
          'GET',
          `/v1/sources/${source.id}/events?${range}limit=2&${query}${cursor ? `&cursor=${cursor}` : ''}`,
          { token },
        )
        expect(page.statusCode).toBe(200)
        seen.push(...page.json().events.map((e: { id: string }) => e.id))
        cursor = page.json().nextCursor
      } while (cursor)
      return seen
    }
    const expectIds = (keep: (e: (typeof events)[number]) => boolean) => events.filter(keep).map((e) => e.id)
    expect(await ids('category=navigation')).toEqual(expectIds((e) => e.category === 'navigation'))
    expect(await ids('session=s-1&name=click')).toEqual(
      expectIds((e) => e.session === 's-1' && e.name === 'click'),
    )
    expect(await ids(`from=${base + 5 * 60_000}&to=${base + 8 * 60_000}`)).toEqual(
      expectIds((e) => e.timestamp >= base + 5 * 60_000 && e.timestamp < base + 8 * 60_000),
    )
    const one = await hg.request('GET', `/v1/sources/${source.id}/events/e-7`, { token })
    expect(one.statusCode).toBe(200)
    expect(one.json()).toMatchObject({
      id: 'e-7',
      name: 'click',
      category: 'page interaction',
      session: 's-3',
      attrs: { i: 7, element: { tag: 'button', classes: ['cta', 'n7'] } },
    })
    expect((await hg.request('GET', `/v1/sources/${source.id}/events/nope`, { token })).statusCode).toBe(404)
    const other = await hg.signUp()
    expect(
      (await hg.request('GET', `/v1/sources/${source.id}/events/e-7`, { token: other.token })).statusCode,
    ).toBe(404)
  })

  it('counts distinct sessions in the hourly rollup', async () => {
    const { token, source } = await appWithPlan()
    await post(source.apiToken, [
      view('u1', 'a', 1, base, { session: 's1' }),
      view('u1', 'a', 1, base + 1, { session: 's1' }),
      view('u2', 'a', 1, base + 2, { session: 's2' }),
      view('u2', 'a', 1, base + HOUR),
    ])
    await hg.settled()
    const rollup = await hg.request(
      'GET',
      `/v1/sources/${source.id}/rollups/hourly?from=${base}&to=${base + 2 * HOUR}`,
      {
        token,
      },
    )
    expect(rollup.json().rows).toEqual([
      { hour: new Date(base).toISOString(), name: 'product_view', events: 3, subjects: 2, sessions: 2 },
      {
        hour: new Date(base + HOUR).toISOString(),
        name: 'product_view',
        events: 1,
        subjects: 1,
        sessions: 0,
      },
    ])
  })
})

describe('API tokens', () => {
  it('issues more tokens for a source; each works and the first stays valid', async () => {
    const { token, source } = await appWithPlan()
    const issued = await hg.request('POST', `/v1/sources/${source.id}/tokens`, { token })
    expect(issued.statusCode).toBe(201)
    for (const apiToken of [source.apiToken, issued.json().apiToken]) {
      expect((await post(apiToken, [view('u', 'a', 1)])).statusCode).toBe(200)
    }
    const other = await hg.signUp()
    expect(
      (await hg.request('POST', `/v1/sources/${source.id}/tokens`, { token: other.token })).statusCode,
    ).toBe(404)
  })
})

describe('API docs', () => {
  it('document every app-analytics route, native and compat, with a summary', async () => {
    const docs = await hg.request('GET', '/docs/json')
    expect(docs.statusCode).toBe(200)
    const paths = docs.json().paths as Record<string, Record<string, { summary?: string }>>
    const expected: [string, string][] = [
      ['/v1/sources/{id}/event-definitions', 'post'],
      ['/v1/sources/{id}/event-definitions', 'get'],
      ['/v1/sources/{id}/event-definitions/{eventCode}/user-stats', 'get'],
      ['/v1/sources/{id}/settings', 'put'],
      ['/v1/sources/{id}/tokens', 'post'],
      ['/v1/sources/{id}/sessions', 'post'],
      ['/v1/sources/{id}/sessions', 'get'],
      ['/v1/sessions', 'post'],
      ['/v1/sources/{id}/events/{eventId}', 'get'],
      ['/compat/metrica/auth/signup', 'post'],
      ['/compat/metrica/auth/signin', 'post'],
      ['/compat/metrica/auth/refresh', 'get'],
      ['/compat/metrica/auth/{app_code}', 'get'],
      ['/compat/metrica/app/create', 'post'],
      ['/compat/metrica/app/create_event/{app_code}', 'post'],
      ['/compat/metrica/{app_code}', 'post'],
      ['/compat/metrica/{app_code}/{event_code}', 'get'],
      ['/compat/the-eye/api-token-auth/', 'post'],
      ['/compat/the-eye/sessions/', 'post'],
      ['/compat/the-eye/sessions/', 'get'],
      ['/compat/the-eye/events/', 'post'],
      ['/compat/the-eye/events/', 'get'],
      ['/compat/the-eye/event_detail/{id}/', 'get'],
    ]
    for (const [path, method] of expected) {
      expect(paths[path]?.[method]?.summary, `${method} ${path}`).toEqual(expect.any(String))
    }
  })
})
