import { randomUUID } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { Warehouse } from '@hourglass/projections'
import type { ApiCall } from '@hourglass/scripts/distributed'
import { expect } from 'vitest'
import { closeTo, exactQuantile, expectedSummary, quantileWithinTolerance } from './readingStatistics.ts'
import { expectedTotals, type GeneratedReceipt, money, seedFigures } from './receiptFixtures.ts'

/**
 * Steps and expected figures of the feature APIs' end-to-end flows, shared by the embedded
 * tests (`*.int.test.ts`) and the distributed ones (`*.services.test.ts`): the same flow, the
 * same figures, in both modes. Writes take the `ApiCall` of a process that serves the write
 * routes (ingest), reads one that serves the read routes (query); in embedded mode both are one.
 */

const HOUR = 3600_000
const DAY = 24 * HOUR

// Store user statistics (seed 001).

export const STORE_STATS = '/compat/store-stats'

export interface StoreHandle {
  readonly id: string
  readonly number: number
  readonly apiKey: string
  /** The store's access token, from the compat API's /api/auth. */
  readonly token: string
}

/** A store of the account, created natively, signed in through the compat API. */
export async function createStore(write: ApiCall, adminToken: string, name: string): Promise<StoreHandle> {
  const created = await write('POST', '/v1/stores', { token: adminToken, body: { name } })
  expect(created.status, JSON.stringify(created.body)).toBe(201)
  const { id, number, apiKey } = created.json<{ id: string; number: number; apiKey: string }>()
  const auth = await write('POST', `${STORE_STATS}/api/auth`, { body: { api_key: apiKey } })
  expect(auth.status).toBe(200)
  expect(auth.json<{ token_type: string }>().token_type).toBe('Bearer')
  return { id, number, apiKey, token: auth.json<{ access_token: string }>().access_token }
}

/** A person as seed 001 registers one; every field long and odd enough to be found in a dump. */
export const compatPerson = (tag: string) => ({
  email: `${tag}.zebulon@example.org`,
  username: `${tag}_user`,
  first_name: `Firstname${tag}Xq`,
  last_name: `Lastname${tag}Zv`,
  phone: 79161234567,
})

/** A store event a test sent, to compute every expected figure on its own. */
export interface StoreEventSent {
  readonly person: string
  readonly type: string
  /** Midnight UTC of its day (epoch ms). */
  readonly day: number
  readonly duration?: number
}

/** Events sent per UTC day, newest day first (as seed 001's daily lists answer). */
const byDay = (sent: readonly StoreEventSent[]) => {
  const days = new Map<string, { n: number; people: Set<string> }>()
  for (const e of sent) {
    const date = new Date(e.day).toISOString().slice(0, 10)
    const entry = days.get(date) ?? { n: 0, people: new Set<string>() }
    entry.n++
    entry.people.add(e.person)
    days.set(date, entry)
  }
  return [...days.entries()].sort(([a], [b]) => b.localeCompare(a))
}

/**
 * Checks a store's seed 001 statistics against the events sent: amounts per day and type, events
 * per user who had one (the original's "average"), and the store's amounts for the days before
 * `before` (later days hold the events the seed's own endpoint records "now").
 */
export async function expectStoreStatistics(
  read: ApiCall,
  store: StoreHandle,
  sent: readonly StoreEventSent[],
  options: { types: readonly string[]; before: string },
) {
  for (const type of options.types) {
    const ofType = byDay(sent.filter((e) => e.type === type))
    const amount = await read('GET', `${STORE_STATS}/api/event/amount/${type}`, { token: store.token })
    expect(amount.body).toEqual(ofType.map(([date, { n }]) => ({ date, event_amount: n })))
    const avg = await read('GET', `${STORE_STATS}/api/event/avg-time/${type}`, { token: store.token })
    const rows = avg.json<{ date: string; event_avg_time: number }[]>()
    expect(rows.map((row) => row.date)).toEqual(ofType.map(([date]) => date))
    for (const [i, row] of rows.entries()) {
      const { n, people } = ofType[i]![1]
      expect(row.event_avg_time).toBeCloseTo(n / people.size, 9)
    }
  }
  const storeAmount = await read('GET', `${STORE_STATS}/api/event/store-events-amount/${store.number}`, {
    token: store.token,
  })
  const days = storeAmount.json<{ date: string; event_amount: number }[]>()
  expect(days.filter((d) => d.date < options.before)).toEqual(
    byDay(sent).map(([date, { n }]) => ({ date, event_amount: n })),
  )
}

/** The `i`-th store event of a test's series: a person, a type, one of `days` days, a duration most times. */
export function storeEventOf(
  i: number,
  options: { ids: Record<string, string>; day0: number; days: number },
) {
  const person = ['ann', 'bob', 'cyd'][i % 3]!
  const type = ['page_view', 'checkout'][i % 2]!
  const day = options.day0 + (i % options.days) * DAY
  const duration = i % 5 === 0 ? undefined : (i % 7) + 0.5
  const sent: StoreEventSent = { person, type, day, ...(duration === undefined ? {} : { duration }) }
  const body = {
    type,
    userId: options.ids[person],
    timestamp: day + (i % 24) * HOUR,
    data: duration === undefined ? { page: i } : { duration },
  }
  return { body, sent }
}

/** Every file under a folder, as one buffer per file: to look for personal data in clear text. */
export const filesUnder = (dir: string): Buffer[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? filesUnder(path) : [readFileSync(path)]
  })

/** Every row of every table of the warehouse, as JSON text by table. */
export async function warehouseText(warehouse: Pick<Warehouse, 'client' | 'database'>) {
  const { client, database } = warehouse
  const listed = await client.query({
    query: `SELECT name FROM system.tables WHERE database = {db:String} AND engine != 'MaterializedView'`,
    query_params: { db: database },
    format: 'JSONEachRow',
  })
  const text: Record<string, string> = {}
  for (const { name } of await listed.json<{ name: string }>()) {
    const rows = await client.query({ query: `SELECT * FROM ${database}.${name}`, format: 'JSONEachRow' })
    text[name] = JSON.stringify(await rows.json())
  }
  return text
}

// App analytics (tracking plans, per-user statistics).

/** A tracking plan: typed attributes, a key (string) and an amount (integer) for per-user statistics. */
export const TRACKING_PLAN = {
  events: [
    {
      name: 'product_view',
      attrs: [
        { name: 'product', type: 'string' },
        { name: 'quantity', type: 'integer' },
        { name: 'price', type: 'number' },
        { name: 'logged_in', type: 'boolean' },
      ],
    },
    { name: 'app_open', attrs: [{ name: 'screen', type: 'string' }] },
    { name: 'purchase', attrs: [{ name: 'total', type: 'integer' }] },
  ],
}

/** A `product_view` of TRACKING_PLAN. */
export const productView = (
  subject: string,
  product: string,
  quantity: number,
  timestamp: number,
  extra: Record<string, unknown> = {},
) => ({
  name: 'product_view',
  timestamp,
  subject,
  attrs: { product, quantity, price: 9.99, logged_in: true },
  ...extra,
})

// Mobile-app statistics (seed 000).

export const METRICA = '/compat/metrica'

/** The seed's event definition, verbatim. */
export const PRODUCT_VIEWS = {
  events: [
    {
      name: 'number of product views',
      attrs: [
        { name: 'product_name', type: 'string' },
        { name: 'quantity', type: 'integer' },
      ],
    },
  ],
}

/** The seed's device message, with the values it leaves out. */
export const metricaMessage = (
  user: string,
  product: string,
  quantity: number,
  extra: Record<string, unknown> = {},
) => ({
  user_code: user,
  event_name: 'number of product views',
  attrs: [
    { name: 'product_name', type: 'string', value: product },
    { name: 'quantity', type: 'integer', value: quantity },
  ],
  ...extra,
})

/** Per-user sums of quantity per product, computed here from what was sent. */
export const expectedMetricaStats = (sent: readonly (readonly [string, string, number])[]) => {
  const byUser = new Map<string, Record<string, number | string>>()
  for (const [user, product, quantity] of sent) {
    const row = byUser.get(user) ?? { user_code: user }
    row[product] = ((row[product] as number | undefined) ?? 0) + quantity
    byUser.set(user, row)
  }
  return [...byUser.keys()].sort().map((user) => byUser.get(user)!)
}

/** A Metrica user with an app and the seed's event defined. */
export async function metricaUserWithApp(write: ApiCall) {
  const signup = await write('POST', `${METRICA}/auth/signup`, {
    body: {
      name: 'Ana',
      surname: 'Lima',
      email: `ana-${randomUUID()}@example.com`,
      password: 'secret-1',
      phone: '+351 912 345 678',
    },
  })
  expect(signup.status).toBe(200)
  const jwt = signup.json<{ jwt_token: string }>().jwt_token
  const created = await write('POST', `${METRICA}/app/create`, { token: jwt, body: { app_name: 'shop' } })
  expect(created.status).toBe(200)
  const { api_token: apiToken, app_code: appCode } = created.json<{ api_token: string; app_code: string }>()
  const defined = await write('POST', `${METRICA}/app/create_event/${appCode}`, {
    token: jwt,
    body: PRODUCT_VIEWS,
  })
  expect(defined.status).toBe(200)
  return { jwt, apiToken, appCode, eventCode: defined.json<{ event_code: string }>().event_code }
}

// Purchase receipts (seed 003).

export const RECEIPTS = '/compat/receipts'

/** A seed 003 analyst: registered and signed in through the compat API, then granted the role natively. */
export async function registerAnalyst(write: ApiCall, adminToken: string | null) {
  const username = `analyst_${Math.random().toString(36).slice(2, 10)}`
  const registered = await write('POST', `${RECEIPTS}/auth/registration/`, {
    body: { username, password1: 'secret', password2: 'secret' },
  })
  expect(registered.status, JSON.stringify(registered.body)).toBe(201)
  const login = await write('POST', `${RECEIPTS}/auth/login/`, { body: { username, password: 'secret' } })
  expect(login.status, JSON.stringify(login.body)).toBe(200)
  if (adminToken) {
    const granted = await write('PUT', `/v1/account/analysts/${username}`, { token: adminToken })
    expect(granted.status).toBe(200)
  }
  return { username, key: login.json<{ key: string }>().key }
}

/** What seed 003's analytics of these receipts say: figures, categories and hours. */
export const seedBreakdown = (receipts: readonly GeneratedReceipt[]) => {
  const expected = expectedTotals(receipts)
  return {
    ...seedFigures(expected.totals),
    categories: [...expected.categories]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([category, c]) => ({ category, items_sold: c.items, total_amount: money(c.revenue) })),
    hourly: [...expected.hours]
      .sort(([a], [b]) => a - b)
      .map(([hour, f]) => ({ hour: new Date(hour).toISOString(), ...seedFigures(f) })),
  }
}

// Sessions and page interactions (seed 002).

export const THE_EYE = '/compat/the-eye'

/** The seed's example event. */
export const ctaClick = (sessionId: string, extra: Record<string, unknown> = {}) => ({
  session_id: sessionId,
  category: 'page interaction',
  name: 'cta click',
  data: { host: 'www.consumeraffairs.com', path: '/', element: 'chat bubble' },
  timestamp: '2021-01-01 09:15:27.243860',
  ...extra,
})

// Device readings (seed 004).

/** A reading as a test sent it. */
export interface ReadingSent {
  readonly metrics: Record<string, number>
}

/** The figures of one metric in a summary. */
export interface MetricFigures {
  readonly count: number
  readonly min: number
  readonly max: number
  readonly mean: number
  readonly sum: number
  readonly median: number
  readonly p95: number
}

/** Checks every figure of a summary against the same figures computed here from the readings sent. */
export function expectSummaryOf(
  actual: Record<string, MetricFigures>,
  expected: readonly ReadingSent[],
  label: string,
) {
  const values = new Map<string, number[]>()
  for (const reading of expected) {
    for (const [metric, value] of Object.entries(reading.metrics)) {
      values.set(metric, [...(values.get(metric) ?? []), value])
    }
  }
  expect(Object.keys(actual).sort(), label).toEqual([...values.keys()].sort())
  for (const [metric, list] of values) {
    const want = expectedSummary(list)
    const got = actual[metric]!
    const where = `${label}, ${metric}`
    expect(got.count, where).toBe(want.count)
    expect(got.min, where).toBe(want.min)
    expect(got.max, where).toBe(want.max)
    expect(closeTo(got.sum, want.sum), `${where}: sum ${got.sum} vs ${want.sum}`).toBe(true)
    expect(closeTo(got.mean, want.mean), `${where}: mean ${got.mean} vs ${want.mean}`).toBe(true)
    for (const [q, name] of [
      [0.5, 'median'],
      [0.95, 'p95'],
    ] as const) {
      const estimate = got[name]
      expect(
        quantileWithinTolerance(want.sorted, q, estimate),
        `${where}: ${name} ${estimate}, exact ${exactQuantile(want.sorted, q)} of ${want.count}`,
      ).toBe(true)
    }
  }
}
