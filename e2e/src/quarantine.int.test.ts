import type { TelemetryRecord } from '@hourglass/log'
import { projectionKey, projectionNamed, type QuarantinedRecord } from '@hourglass/projections'
import { STORE_EVENT, telemetryStream } from '@hourglass/schemas'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createStore, compatPerson as person, STORE_STATS, type StoreHandle } from './harness/featureFlows.ts'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

let hg: TestHourglass
beforeAll(async () => {
  hg = await startTestHourglass()
})
afterAll(() => hg?.close())

const HOUR = 3600_000
const base = Date.UTC(2026, 10, 3, 17, 0, 0)
const EVENTS = projectionKey(projectionNamed('events')!)
const STORE = projectionKey(projectionNamed('store-stats')!)

interface Tenant {
  readonly token: string
  readonly source: { id: string; apiToken: string }
}

const newTenant = async (): Promise<Tenant> => {
  const { token } = await hg.signUp()
  return { token, source: await hg.createSource(token) }
}

const sendEvents = async (tenant: Tenant, names: readonly string[]) => {
  const events = names.map((name, i) => ({ name, timestamp: base + i * 60_000 }))
  const response = await hg.request('POST', '/v1/events', { token: tenant.source.apiToken, body: { events } })
  expect(response.statusCode, response.body).toBe(200)
}

/** Events per name in the tenant's rollup of the hour the test writes in. */
const counts = async (tenant: Tenant) => {
  const response = await hg.request(
    'GET',
    `/v1/sources/${tenant.source.id}/rollups/hourly?from=${base}&to=${base + HOUR}`,
    { token: tenant.token },
  )
  expect(response.statusCode, response.body).toBe(200)
  const rows = response.json<{ rows: { name: string; events: number }[] }>().rows
  return Object.fromEntries(rows.map((row) => [row.name, row.events]))
}

/** The last record the log holds of a stream or a type: the shape such a record is stored in. */
const lastRecordOf = async (streamOrType: string): Promise<TelemetryRecord> => {
  const records = await hg.runtime.telemetry.readPartition(0, 0, 100_000)
  const found = records.filter((r) => r.stream === streamOrType || r.type === streamOrType).at(-1)
  if (!found) throw new Error(`no record of ${streamOrType}`)
  return found
}

/**
 * Appends a record straight to the log, past ingest's validation, as a version of Hourglass
 * before the well-formed rule (or a bug) would have: a copy of `like` with fields replaced.
 */
const appendUnchecked = async (like: TelemetryRecord, id: string, data: Record<string, unknown>) => {
  const [outcome] = await hg.runtime.telemetry.appendEvents([
    { stream: like.stream, id, type: like.type, data: { ...(like.data as object), ...data } },
  ])
  expect(outcome?.status).toBe('appended')
  return outcome!.position
}

const admin = (method: 'GET' | 'POST', url: string, body?: object) =>
  hg.request(method, url, { token: hg.adminToken, ...(body ? { body } : {}) })

const quarantined = async (query = ''): Promise<QuarantinedRecord[]> => {
  const response = await admin('GET', `/v1/admin/quarantine${query}`)
  expect(response.statusCode, response.body).toBe(200)
  return response.json<{ records: QuarantinedRecord[] }>().records
}

const statusOf = async (key: string) => {
  const response = await admin('GET', '/v1/admin/status')
  expect(response.statusCode).toBe(200)
  const found = response
    .json<{ projections: { key: string; quarantined: number; stalledSince: string | null; lag: number }[] }>()
    .projections.find((p) => p.key === key)
  if (!found) throw new Error(`no status of ${key}`)
  return found
}

describe('a record a projection cannot apply does not stop it', () => {
  let a: Tenant
  let b: Tenant
  let store: StoreHandle
  let personId: string
  let badEvent: number
  let badStoreEvent: number

  beforeAll(async () => {
    a = await newTenant()
    b = await newTenant()
    store = await createStore(hg.api, (await hg.signUp()).token, 'Quarantine Shop')
    const created = await hg.request('POST', `${STORE_STATS}/api/user`, {
      token: store.token,
      body: person('qa'),
    })
    expect(created.statusCode).toBe(201)
    personId = created.json<{ id: string }>().id
  })

  it('sets a lone surrogate written past ingest aside and goes on, for every tenant', async () => {
    await sendEvents(a, ['open', 'open'])
    await sendEvents(b, ['open'])
    const storeEvent = await hg.request('POST', '/v1/store-events', {
      token: store.token,
      body: { type: 'page_view', userId: personId, timestamp: base, data: {} },
    })
    expect(storeEvent.statusCode, storeEvent.body).toBe(201)
    await hg.settled()

    // What the request stored before the well-formed rule: an event name cut in half.
    const eventLike = await lastRecordOf(telemetryStream(a.source.id))
    badEvent = await appendUnchecked(eventLike, 'bad-1', { id: 'bad-1', name: 'x\ud800' })
    const storeLike = await lastRecordOf(STORE_EVENT)
    badStoreEvent = await appendUnchecked(storeLike, 'bad-2', { type: 'checkout\ud800' })

    await sendEvents(a, ['open', 'buy'])
    await sendEvents(b, ['open', 'open'])
    await hg.settled()

    expect(await counts(a)).toEqual({ open: 3, buy: 1 })
    expect(await counts(b)).toEqual({ open: 3 })
    const held = await quarantined('?status=held')
    expect(held.map((r) => [r.projection, r.position, r.recordId])).toEqual(
      expect.arrayContaining([
        [EVENTS, badEvent, 'bad-1'],
        [STORE, badStoreEvent, 'bad-2'],
      ]),
    )
    const event = held.find((r) => r.projection === EVENTS && r.position === badEvent)!
    expect(event).toMatchObject({ status: 'held', attempts: 0, stream: telemetryStream(a.source.id) })
    expect(event.errorMessage).toMatch(/surrogate/)
  })

  it('says so in status, /readyz and /metrics, and stays ready', async () => {
    const events = await statusOf(EVENTS)
    expect(events).toMatchObject({ quarantined: 1, stalledSince: null, lag: 0 })
    const ready = await hg.request('GET', '/readyz')
    expect(ready.statusCode, ready.body).toBe(200)
    const readiness = ready.json<{ status: string; projections: { key: string; quarantined: number }[] }>()
    expect(readiness.status).toBe('ready')
    expect(readiness.projections.find((p) => p.key === EVENTS)?.quarantined).toBe(1)
    const metrics = await hg.request('GET', '/metrics')
    expect(metrics.statusCode).toBe(200)
    expect(metrics.body).toContain(
      `hourglass_projection_quarantined_records{projection="${EVENTS}",service="hourglass"} 1`,
    )
    expect(metrics.body).toContain(
      `hourglass_projection_stalled{projection="${EVENTS}",service="hourglass"} 0`,
    )
    expect((await hg.request('GET', '/healthz')).statusCode).toBe(200)
    // The dashboard's freshness line: the source whose record is set aside, and not the other.
    const freshness = (tenant: Tenant) =>
      hg.request('GET', `/v1/sources/${tenant.source.id}/freshness`, { token: tenant.token })
    const ofA = await freshness(a)
    expect(ofA.statusCode, ofA.body).toBe(200)
    expect(ofA.json()).toMatchObject({ heldUp: false, quarantined: 1, lag: 0 })
    expect(ofA.json().projections).toContainEqual({
      projection: 'events',
      lag: 0,
      stalledSince: null,
      quarantined: 1,
    })
    expect((await freshness(b)).json()).toMatchObject({ heldUp: false, quarantined: 0 })
  })

  it('answers an erasure while the bad records are in the log', async () => {
    const erased = await hg.request('DELETE', `/v1/people/${personId}/events`, { token: store.token })
    expect(erased.statusCode, erased.body).toBe(200)
    expect(erased.json()).toEqual({ erasedEvents: 1 })
  })

  it('retries: a record that still fails stays held; repaired, it counts exactly once', async () => {
    const again = await admin('POST', '/v1/admin/quarantine/retry', { projection: EVENTS })
    expect(again.statusCode, again.body).toBe(200)
    expect(again.json().outcomes).toEqual([
      expect.objectContaining({ projection: EVENTS, position: badEvent, status: 'held' }),
    ])
    expect((await quarantined(`?projection=${EVENTS}`))[0]).toMatchObject({ status: 'held', attempts: 1 })
    expect(await counts(a)).toEqual({ open: 3, buy: 1 })

    const repaired = await admin('POST', '/v1/admin/quarantine/retry', { projection: EVENTS, repair: true })
    expect(repaired.json().outcomes).toEqual([
      expect.objectContaining({ projection: EVENTS, position: badEvent, status: 'retried', error: null }),
    ])
    expect(await counts(a)).toEqual({ open: 3, buy: 1, 'x\ufffd': 1 })
    expect(await counts(b)).toEqual({ open: 3 })
    // Nothing is held any more: a second retry applies nothing, and the count stays one.
    const none = await admin('POST', '/v1/admin/quarantine/retry', { projection: EVENTS, repair: true })
    expect(none.json().outcomes).toEqual([])
    expect(await counts(a)).toEqual({ open: 3, buy: 1, 'x\ufffd': 1 })
    expect(await statusOf(EVENTS)).toMatchObject({ quarantined: 0 })
    expect((await quarantined(`?projection=${EVENTS}`))[0]).toMatchObject({ status: 'retried', attempts: 2 })
  })

  it('drops a record an operator gives up on, which then counts nowhere', async () => {
    const dropped = await admin('POST', '/v1/admin/quarantine/drop', {
      projection: STORE,
      position: badStoreEvent,
    })
    expect(dropped.statusCode, dropped.body).toBe(200)
    expect(dropped.json().dropped).toEqual([
      expect.objectContaining({ position: badStoreEvent, status: 'dropped' }),
    ])
    expect(await statusOf(STORE)).toMatchObject({ quarantined: 0 })
    expect(await quarantined('?status=held')).toEqual([])
  })

  it('refuses malformed operator requests with a 400 naming the field, and anyone without the token', async () => {
    const badAction = await admin('POST', '/v1/admin/quarantine/explode', {})
    expect(badAction.statusCode).toBe(400)
    const badPosition = await admin('GET', '/v1/admin/quarantine?position=-3')
    expect(badPosition.statusCode).toBe(400)
    expect(badPosition.body).toContain('position')
    const anonymous = await hg.request('GET', '/v1/admin/quarantine')
    expect(anonymous.statusCode).toBe(401)
  })
})
