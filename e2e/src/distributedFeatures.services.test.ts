import { createPostgresPersonKeyStore } from '@hourglass/control/postgres'
import { openPostgresPool } from '@hourglass/log/postgres'
import { projections } from '@hourglass/projections'
import { sourceIdOfAppCode } from '@hourglass/schemas'
import type { ApiCall } from '@hourglass/scripts/distributed'
import { type DistributedHourglass, startDistributedHourglass } from '@hourglass/scripts/distributed'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  compatPerson,
  createStore,
  ctaClick,
  expectedMetricaStats,
  expectStoreStatistics,
  expectSummaryOf,
  METRICA,
  type MetricFigures,
  metricaMessage,
  metricaUserWithApp,
  productView,
  RECEIPTS,
  registerAnalyst,
  STORE_STATS,
  type StoreEventSent,
  type StoreHandle,
  seedBreakdown,
  storeEventOf,
  THE_EYE,
  TRACKING_PLAN,
  warehouseText,
} from './harness/featureFlows.ts'
import { expectedTotals, generateReceipts, seedFigures, seedReceipt } from './harness/receiptFixtures.ts'

/**
 * The feature APIs of embedded mode (stores and people with erasure, receipts, devices, app
 * analytics, every /compat family, the dashboard) in distributed mode: writes through two
 * ingest processes, reads through the query process, a projection worker on a real Kafka
 * broker, PostgreSQL keeping the control records and the keys of personal data. Each flow
 * writes through both ingest processes, so what one process wrote must be known to the other.
 */

/** Longest wait of an erasure for the workers' report here (the default is 10 s). */
const ERASURE_WAIT_MS = 8000

let hg: DistributedHourglass
/** Ingest processes a and b, and the query process. */
let a: ApiCall
let b: ApiCall
let read: ApiCall
beforeAll(async () => {
  hg = await startDistributedHourglass({
    brokers: process.env.KAFKA_BROKERS!,
    ingests: 2,
    workers: 1,
    env: { HOURGLASS_ERASURE_WAIT_MS: String(ERASURE_WAIT_MS) },
  })
  a = hg.api(hg.ingest[0]!)
  b = hg.api(hg.ingest[1]!)
  read = hg.api(hg.query)
})
afterAll(() => hg?.close())

const HOUR = 3600_000
const DAY = 24 * HOUR

/** Polls a check until it passes or `timeoutMs` is over (then its last failure is thrown). */
const eventually = async (check: () => Promise<void>, timeoutMs = 60_000) => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await check()
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }
}

describe('store user statistics, people and erasure (seed 001) across processes', () => {
  const day0 = Date.UTC(2026, 9, 5)
  const types = ['page_view', 'checkout']
  let admin: string
  let store: StoreHandle
  const ids: Record<string, string> = {}
  const sent: StoreEventSent[] = []
  const without = (people: string[]) => sent.filter((e) => !people.includes(e.person))

  beforeAll(async () => {
    admin = (await hg.signUp()).token
    store = await createStore(a, admin, 'Shop One')
  })

  it('registers people through one ingest process and finds them, fields opened, through the other', async () => {
    for (const tag of ['ann', 'bob', 'cyd']) {
      const registered = await b('POST', `${STORE_STATS}/api/user`, {
        token: store.token,
        body: compatPerson(tag),
      })
      expect(registered.status, JSON.stringify(registered.body)).toBe(201)
      ids[tag] = registered.json<{ id: string }>().id
      const found = await a('GET', `${STORE_STATS}/api/user/${encodeURIComponent(compatPerson(tag).email)}`, {
        token: store.token,
      })
      expect(found.body).toEqual({ id: ids[tag] })
    }
    // One e-mail index key, kept in PostgreSQL: unique per store whichever process asks.
    const again = await a('POST', `${STORE_STATS}/api/user`, {
      token: store.token,
      body: compatPerson('ann'),
    })
    expect(again.status).toBe(409)
    const patched = await a('PATCH', `${STORE_STATS}/api/user`, {
      token: store.token,
      body: { ...compatPerson('bob'), username: 'bobby', store_id: store.number },
    })
    expect(patched.status).toBe(201)
    const bob = await b('GET', `/v1/people/${ids.bob}`, { token: store.token })
    expect(bob.body).toMatchObject({
      username: 'bobby',
      email: compatPerson('bob').email,
      firstName: 'FirstnamebobXq',
    })
  })

  it('answers daily amounts and average durations from the workers, read through the query process', async () => {
    for (let i = 0; i < 36; i++) {
      const event = storeEventOf(i, { ids, day0, days: 3 })
      const response = await (i % 2 ? a : b)('POST', '/v1/store-events', {
        token: store.token,
        body: event.body,
      })
      expect(response.status, JSON.stringify(response.body)).toBe(201)
      sent.push(event.sent)
    }
    const compat = await a('POST', `${STORE_STATS}/api/event`, {
      token: store.token,
      body: { type: 'signup', store_id: store.number, user_id: ids.cyd, data: { source: 'ad' } },
    })
    expect(compat.status).toBe(201)
    await hg.settled()
    await expectStoreStatistics(read, store, sent, { types, before: '2026-11-01' })
    const native = await read('GET', '/v1/store-stats/amount/page_view', { token: store.token })
    expect(native.json<{ days: unknown[] }>().days).toHaveLength(3)
    const annEvents = await read('GET', `/v1/store-events?userId=${ids.ann}&limit=1000`, {
      token: store.token,
    })
    expect(annEvents.json<{ events: unknown[] }>().events).toHaveLength(
      sent.filter((e) => e.person === 'ann').length,
    )
    // The same figures on the dashboard, with the account token.
    const daily = await read(
      'GET',
      `/v1/sources/${store.id}/store-stats/daily?from=${day0}&to=${day0 + 3 * DAY}`,
      {
        token: admin,
      },
    )
    expect(daily.status).toBe(200)
    const events = daily.json<{ days: { events: number }[] }>().days.reduce((sum, d) => sum + d.events, 0)
    expect(events).toBe(sent.length)
  })

  it('erases a person for every process at once and says how many events went, once the workers applied it', async () => {
    const erased = await b('DELETE', `/v1/people/${ids.ann}`, { token: store.token })
    expect(erased.status, JSON.stringify(erased.body)).toBe(200)
    expect(erased.body).toEqual({ erasedEvents: sent.filter((e) => e.person === 'ann').length })
    // Answered once applied: the statistics no longer count her, at once.
    await expectStoreStatistics(read, store, without(['ann']), { types, before: '2026-11-01' })

    // Her key is gone from PostgreSQL, so her fields are unreadable everywhere.

    for (const ingest of [a, b]) {
      expect((await ingest('GET', `/v1/people/${ids.ann}`, { token: store.token })).status).toBe(404)
      const byEmail = await ingest(
        'GET',
        `${STORE_STATS}/api/user/${encodeURIComponent(compatPerson('ann').email)}`,
        {
          token: store.token,
        },
      )
      expect(byEmail.status).toBe(404)
      const event = await ingest('POST', '/v1/store-events', {
        token: store.token,
        body: { type: 'x', userId: ids.ann },
      })
      expect(event.status).toBe(404)
    }
    const pool = openPostgresPool({ ...hg.postgres, poolSize: 1 })
    const keys = await createPostgresPersonKeyStore({
      postgres: pool,
      masterKey: Buffer.from(hg.masterKey, 'base64url'),
    })
    try {
      expect(await keys.get(ids.ann!)).toBeNull()
      expect(await keys.get(ids.bob!)).not.toBeNull()

      // Personal fields in clear text: in no record of the control store, in no table of the warehouse.
      const secrets = Object.values(compatPerson('ann'))
        .map(String)
        .filter((value) => value.length > 6)
      const records = await pool.query<{ data: string }>('SELECT data::text AS data FROM control_records')
      expect(records.length).toBeGreaterThan(0)
      const controlText = records.map((r) => r.data).join('\n')
      for (const secret of secrets) expect(controlText.includes(secret)).toBe(false)
      for (const [table, dump] of Object.entries(await warehouseText(hg.warehouse))) {
        for (const secret of secrets) expect(dump.includes(secret), `${secret} in ${table}`).toBe(false)
      }
    } finally {
      await keys.close()
      await pool.close()
    }
  })

  it('answers 202 when the workers have not applied an erasure within the wait, and they apply it later', async () => {
    // No worker: nobody applies the erasure, and the answer says it is pending after the wait.
    await hg.killWorker(0)
    const started = Date.now()
    const response = await a('DELETE', `${STORE_STATS}/api/event/${ids.bob}`, { token: store.token })
    const waited = Date.now() - started
    expect(response.status).toBe(202)
    expect(response.body).toEqual({ message: 'The events are being deleted' })
    expect(waited).toBeGreaterThanOrEqual(ERASURE_WAIT_MS - 100)
    expect(waited).toBeLessThan(ERASURE_WAIT_MS + 5000)
    await hg.startWorker(0)
    await eventually(() =>
      expectStoreStatistics(read, store, without(['ann', 'bob']), { types, before: '2026-11-01' }),
    )
    const { client, database } = hg.warehouse
    const rows = await client.query({
      query: `SELECT count() AS n FROM ${database}.store_events WHERE person_id IN {ids:Array(String)}`,
      query_params: { ids: [ids.ann, ids.bob] },
      format: 'JSONEachRow',
    })
    expect((await rows.json<{ n: string | number }>()).map(({ n }) => Number(n))).toEqual([0])
    // Bob stays.
    expect((await b('GET', `/v1/people/${ids.bob}`, { token: store.token })).status).toBe(200)
  })
})

describe('purchase receipts (seed 003) across processes', () => {
  it('takes a receipt natively and reports it to the account admin', async () => {
    const admin = await hg.signUp()
    const place = await hg.createSource(admin.token, hg.ingest[1], 'place')
    const sent = await a('POST', '/v1/receipts', { token: place.apiToken, body: seedReceipt() })
    expect(sent.status, JSON.stringify(sent.body)).toBe(201)
    await hg.settled()
    const analytics = await read('GET', '/v1/receipts/analytics', { token: admin.token })
    expect(analytics.status).toBe(200)
    expect(analytics.json<{ totals: unknown }>().totals).toEqual({
      purchases: 1,
      averageReceipt: '27.47',
      revenue: '27.47',
      nds: '2.47',
      tips: '3.00',
    })
  })

  it('adds up receipts sent to both compat endpoints through both processes, each counted once, for an analyst', async () => {
    const admin = await hg.signUp(hg.ingest[1])
    const place = await hg.createSource(admin.token, hg.ingest[0], 'place')
    const places = [
      { placeId: '021', placeName: 'Кафе' },
      { placeId: '022', placeName: 'Магазин №2' },
    ]
    const receipts = generateReceipts('distributed', 40, places, Date.UTC(2026, 8, 14), 6)
    for (const [i, receipt] of receipts.entries()) {
      const endpoint = i % 2 === 0 ? 'checks' : 'add_checks'
      const response = await (i % 3 ? a : b)('POST', `${RECEIPTS}/api/${endpoint}/`, {
        headers: { authorization: `Token ${place.apiToken}` },
        body: receipt.body,
      })
      expect(response.status, JSON.stringify(response.body)).toBe(201)
    }
    // Re-sent to the other endpoint through the other process: Kafka cannot refuse a re-sent id at
    // append time, so the answer may be 201 here; the workers count each transaction_id once.
    for (const receipt of receipts.slice(0, 5)) {
      const again = await b('POST', `${RECEIPTS}/api/add_checks/`, {
        token: place.apiToken,
        body: receipt.body,
      })
      expect([200, 201]).toContain(again.status)
    }
    const { key } = await registerAnalyst(b, admin.token)
    await hg.settled()

    const asAnalyst = { headers: { authorization: `Token ${key}` } }
    expect((await read('GET', `${RECEIPTS}/api/places/`, asAnalyst)).body).toEqual(
      places.map((p) => ({ place_id: p.placeId, place_name: p.placeName })),
    )
    const ofPlace = (placeId: string) => receipts.filter((r) => places[r.place]!.placeId === placeId)
    expect((await read('GET', `${RECEIPTS}/api/analytics/`, asAnalyst)).body).toEqual({
      ...seedBreakdown(receipts),
      places: places.map((p) => ({
        place_id: p.placeId,
        place_name: p.placeName,
        ...seedFigures(expectedTotals(ofPlace(p.placeId)).totals),
      })),
    })
    expect((await read('GET', `${RECEIPTS}/api/analytics/021/`, asAnalyst)).body).toEqual({
      place_id: '021',
      place_name: 'Кафе',
      ...seedBreakdown(ofPlace('021')),
    })
    const plain = await registerAnalyst(a, null)
    const refused = await read('GET', `${RECEIPTS}/api/analytics/`, {
      headers: { authorization: `Token ${plain.key}` },
    })
    expect(refused.status).toBe(403)
  })
})

describe('device readings (seed 004) across processes', () => {
  it('attributes readings to the owner bound on another process and summarises them', async () => {
    const admin = await hg.signUp()
    const fleet = await hg.createSource(admin.token, hg.ingest[0], 'device')
    const user = await b('POST', '/compat/devices/users', {
      token: fleet.apiToken,
      body: { username: 'ivan', password: 'ivan-secret-42' },
    })
    expect(user.status, JSON.stringify(user.body)).toBe(201)
    const userId = user.json<{ id: string }>().id
    const base = Date.UTC(2026, 9, 20)
    const bound = await a('PUT', `/v1/sources/${fleet.id}/devices/sensor-1/owner`, {
      token: admin.token,
      body: { userId, effectiveFrom: base },
    })
    expect(bound.status, JSON.stringify(bound.body)).toBe(200)
    const unowned = await b('PUT', `/v1/sources/${fleet.id}/devices/sensor-2/owner`, {
      token: admin.token,
      body: { userId: null, effectiveFrom: base },
    })
    expect(unowned.status).toBe(200)

    const sensor1 = Array.from({ length: 30 }, (_, i) => ({
      timestamp: base + i * 17 * 60_000,
      metrics: { x: ((i * 37) % 23) - 11.5, y: (i * 7) % 10 },
    }))
    for (const [i, reading] of sensor1.entries()) {
      const response = await (i % 2 ? a : b)('POST', '/compat/devices/stats/sensor-1', {
        token: fleet.apiToken,
        body: { ...reading.metrics, timestamp: reading.timestamp },
      })
      expect(response.status, JSON.stringify(response.body)).toBe(201)
      expect(response.json<{ user_id: string }>().user_id).toBe(userId)
    }
    const sensor2 = Array.from({ length: 12 }, (_, i) => ({
      timestamp: base + i * HOUR,
      metrics: { temperature: 20 + ((i * 5) % 7) / 2 },
    }))
    const batch = await a('POST', '/v1/readings', {
      token: fleet.apiToken,
      body: { readings: sensor2.map((r) => ({ deviceId: 'sensor-2', ...r })) },
    })
    expect(batch.status, JSON.stringify(batch.body)).toBe(200)
    await hg.settled()

    const device = await read('GET', '/compat/devices/stats/sensor-1/summary', { token: fleet.apiToken })
    expect(device.status, JSON.stringify(device.body)).toBe(200)
    expectSummaryOf(device.json(), sensor1, 'sensor-1')
    const basic = `Basic ${Buffer.from(`${userId}:ivan-secret-42`).toString('base64')}`
    const own = await read('GET', `/compat/devices/users/${userId}/stats/summary`, {
      headers: { authorization: basic },
    })
    expect(own.status).toBe(200)
    expectSummaryOf(own.json(), sensor1, "ivan's devices")
    const native = await read('GET', `/v1/sources/${fleet.id}/devices/sensor-2/summary`, {
      token: admin.token,
    })
    expect(native.status, JSON.stringify(native.body)).toBe(200)
    expectSummaryOf(native.json<{ metrics: Record<string, MetricFigures> }>().metrics, sensor2, 'sensor-2')
  })
})

describe('app analytics and Metrica (seed 000) across processes', () => {
  const base = Date.UTC(2026, 10, 2)
  it('checks events on every ingest process against a tracking plan defined on one of them', async () => {
    const { token } = await hg.signUp()
    const source = await hg.createSource(token, hg.ingest[0])
    const defined = await a('POST', `/v1/sources/${source.id}/event-definitions`, {
      token,
      body: TRACKING_PLAN,
    })
    expect(defined.status, JSON.stringify(defined.body)).toBe(201)
    const codes = defined.json<{ definitions: { eventCode: string }[] }>().definitions.map((d) => d.eventCode)
    const code = codes[0]!
    const listed = await b('GET', `/v1/sources/${source.id}/event-definitions`, { token })
    expect(
      listed.json<{ definitions: { eventCode: string }[] }>().definitions.map((d) => d.eventCode),
    ).toEqual(codes)
    const wrong = await b('POST', '/v1/events', {
      token: source.apiToken,
      body: { events: [{ name: 'product_view', timestamp: base, attrs: { product: 'a', quantity: '1' } }] },
    })
    expect(wrong.status).toBe(400)
    expect(JSON.stringify(wrong.body)).toContain('events[0].attrs.quantity')

    const sent: [string, string, number, number][] = []
    for (let i = 0; i < 24; i++)
      sent.push([`user-${i % 3}`, ['resistor', 'diode'][i % 2]!, i % 5, base + (i % 4) * HOUR])
    for (let i = 0; i < sent.length; i += 6) {
      const response = await (i % 12 ? a : b)('POST', '/v1/events', {
        token: source.apiToken,
        body: { events: sent.slice(i, i + 6).map(([u, p, q, t]) => productView(u, p, q, t)) },
      })
      expect(response.json<{ accepted: number }>().accepted).toBe(6)
    }
    await hg.settled()
    const rollup = await read(
      'GET',
      `/v1/sources/${source.id}/rollups/hourly?from=${base}&to=${base + 4 * HOUR}`,
      {
        token,
      },
    )
    expect(rollup.json<{ rows: { events: number; subjects: number }[] }>().rows).toEqual(
      [0, 1, 2, 3].map((h) =>
        expect.objectContaining({ hour: new Date(base + h * HOUR).toISOString(), events: 6, subjects: 3 }),
      ),
    )
    const stats = await read('GET', `/v1/sources/${source.id}/event-definitions/${code}/user-stats`, {
      token,
    })
    expect(stats.status).toBe(200)
    // Per-user statistics, from definitions the workers read in the control store in PostgreSQL.
    const expected = expectedMetricaStats(sent.map(([u, p, q]) => [u, p, q] as const))
    await eventually(async () => {
      const users = (
        await read('GET', `/v1/sources/${source.id}/event-definitions/${code}/user-stats`, { token })
      )
        .json<{ users: { user: string; values: Record<string, number> }[] }>()
        .users.map(({ user, values }) => ({ user_code: user, ...values }))
      expect(users).toEqual(expected)
    })
  })

  it('takes Metrica messages through both processes and answers its statistics route from the query process', async () => {
    const { jwt, apiToken, appCode, eventCode } = await metricaUserWithApp(a)
    const sent: [string, string, number][] = [
      ['user-a', 'resistor', 5],
      ['user-a', 'diode', 235],
      ['user-b', 'transistor', 14],
      ['user-a', 'resistor', 6],
    ]
    for (const [i, [user, product, quantity]] of sent.entries()) {
      const posted = await (i % 2 ? a : b)('POST', `${METRICA}/${appCode}`, {
        token: apiToken,
        body: metricaMessage(user, product, quantity),
      })
      expect(posted.status, JSON.stringify(posted.body)).toBe(200)
    }
    await hg.settled()
    const stats = await read('GET', `${METRICA}/${appCode}/${eventCode}`, { token: jwt })
    expect(stats.status).toBe(200)
    await eventually(async () =>
      expect((await read('GET', `${METRICA}/${appCode}/${eventCode}`, { token: jwt })).body).toEqual(
        expectedMetricaStats(sent),
      ),
    )
    expect((await read('GET', `${METRICA}/${appCode}/nope`, { token: jwt })).status).toBe(404)
    expect((await read('GET', `${METRICA}/${appCode}/${eventCode}`)).status).toBe(403)
    // The events are in the rollup whatever the workers know of definitions.
    const rollup = await read(
      'GET',
      `/v1/sources/${sourceIdOfAppCode(appCode)}/rollups/hourly?from=${Date.now() - DAY}`,
      {
        token: jwt,
      },
    )
    const rows = rollup.json<{ rows: { events: number }[] }>().rows
    expect(rows.reduce((sum, r) => sum + r.events, 0)).toBe(sent.length)
  })
})

describe('The Eye (seed 002) across processes', () => {
  it('lists an event written through one ingest process as soon as it is read from the query process', async () => {
    const { email, password } = await hg.signUp()
    const auth = await a('POST', `${THE_EYE}/api-token-auth/`, { body: { username: email, password } })
    expect(auth.status).toBe(200)
    const eye = { headers: { authorization: `Token ${auth.json<{ token: string }>().token}` } }
    const session = await b('POST', `${THE_EYE}/sessions/`, eye)
    expect(session.status, JSON.stringify(session.body)).toBe(201)
    const sessionId = session.json<{ id: string }>().id
    const added = await a('POST', `${THE_EYE}/events/`, { ...eye, body: ctaClick(sessionId) })
    expect(added.status, JSON.stringify(added.body)).toBe(201)
    const stored = added.json<{ id: number }>()
    expect(stored).toMatchObject({
      session_id: sessionId,
      name: 'cta click',
      timestamp: '2021-01-01T09:15:27.243Z',
    })

    // A read waits up to a second for the workers; a loaded machine may need a few reads.
    await eventually(async () => {
      const listed = await read('GET', `${THE_EYE}/events/`, eye)
      expect(listed.body).toEqual([stored])
    }, 20_000)
    const detail = await read('GET', `${THE_EYE}/event_detail/${stored.id}/`, eye)
    expect(detail.body).toEqual(stored)
    expect(
      (await read('GET', `${THE_EYE}/events/?session_id=${sessionId}&name=cta%20click`, eye)).body,
    ).toEqual([stored])
    const unknownSession = await b('POST', `${THE_EYE}/events/`, {
      ...eye,
      body: ctaClick(crypto.randomUUID()),
    })
    expect(unknownSession.status).toBe(400)
    // A token revoked through one process is refused by every other at once.
    expect((await b('DELETE', `${THE_EYE}/api-token-auth/`, eye)).status).toBe(204)
    expect((await a('GET', `${THE_EYE}/sessions/`, eye)).status).toBe(401)
    expect((await read('GET', `${THE_EYE}/events/`, eye)).status).toBe(401)
  })
})

describe('the dashboard and the split of routes between ingest and query', () => {
  it('serves the dashboard and its freshness from the query process, with the lag of the workers', async () => {
    const { token } = await hg.signUp()
    const source = await hg.createSource(token)
    const at = Date.now() - HOUR
    const posted = await b('POST', '/v1/events', {
      token: source.apiToken,
      body: { events: [{ name: 'open', timestamp: at, subject: 'u1' }] },
    })
    expect(posted.status).toBe(200)
    await hg.settled()
    const freshness = await read('GET', `/v1/sources/${source.id}/freshness`, { token })
    expect(freshness.status, JSON.stringify(freshness.body)).toBe(200)
    expect(freshness.body).toMatchObject({
      newestEventAt: new Date(at).toISOString(),
      records: 1,
      lag: 0,
      projections: projections.map((p) => ({ projection: p.name, lag: 0 })),
    })
    const overview = await read('GET', `/v1/sources/${source.id}/overview`, { token })
    expect(overview.json<{ names: unknown[] }>().names).toEqual([{ name: 'open', events: 1, users: 1 }])
    // The page: built (200) or not (503, saying how), but the query process's, not ingest's.
    expect([200, 503]).toContain((await read('GET', '/')).status)
    expect((await a('GET', '/')).status).toBe(404)
  })

  it('serves writes from ingest and reads from query only, and documents each at /docs', async () => {
    const { token } = await hg.signUp()
    expect((await a('GET', '/v1/receipts/analytics', { token })).status).toBe(404)
    expect((await read('POST', '/v1/stores', { token, body: { name: 'x' } })).status).toBe(404)
    expect((await read('GET', '/v1/receipts/analytics', { token })).status).toBe(200)
    for (const service of [a, read]) expect((await service('GET', '/docs/json')).status).toBe(200)
  })

  it('answers bad input to the feature routes with a 4xx naming the field, never a 5xx', async () => {
    const { token } = await hg.signUp()
    const store = await createStore(a, token, 'Bad input')
    const fleet = await hg.createSource(token, hg.ingest[0], 'device')
    const cases: [ApiCall, Parameters<ApiCall>, number, string?][] = [
      [
        a,
        ['POST', '/v1/people', { token: store.token, body: { ...compatPerson('eve'), email: 'nope' } }],
        400,
        'email',
      ],
      [b, ['DELETE', '/v1/people/not-a-person', { token: store.token }], 400, 'params.id'],
      [b, ['DELETE', `/v1/people/${crypto.randomUUID()}`, { token: store.token }], 404],
      [
        a,
        ['POST', `${STORE_STATS}/api/event`, { token: store.token, body: { type: 'x', store_id: 'one' } }],
        400,
        'store_id',
      ],
      [
        read,
        ['GET', '/compat/devices/stats/sensor-1/summary?from=yesterday', { token: fleet.apiToken }],
        400,
        'querystring.from',
      ],
      [read, ['GET', '/compat/devices/stats/sensor-1/summary', { token: store.token }], 401],
      [
        read,
        ['GET', `/v1/store-stats/amount/x?from=tomorrow`, { token: store.token }],
        400,
        'querystring.from',
      ],
      [read, ['GET', `${THE_EYE}/events/?page_size=0`, { token }], 400, 'querystring.page_size'],
      [read, ['GET', `${RECEIPTS}/api/analytics/`, { headers: { authorization: 'Token forged' } }], 401],
    ]
    for (const [service, [method, path, options], status, field] of cases) {
      const response = await service(method, path, options)
      expect(response.status, `${method} ${path}: ${JSON.stringify(response.body)}`).toBe(status)
      if (field) {
        const issues = response.json<{ error: { issues: { path: string }[] } }>().error.issues
        expect(issues.map((i) => i.path)).toContain(field)
      }
    }
  })
})
