import { type DistributedHourglass, startDistributedHourglass } from '@hourglass/scripts/distributed'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

/**
 * The end-to-end flows of embedded mode, in distributed mode: two ingest processes, two
 * projection workers in a consumer group over a 4-partition topic on a real Kafka broker, a
 * query process and the warehouse, each its own process, the control plane in PostgreSQL.
 */

let hg: DistributedHourglass
beforeAll(async () => {
  hg = await startDistributedHourglass({ brokers: process.env.KAFKA_BROKERS!, ingests: 2, workers: 2 })
})
afterAll(() => hg?.close())

const HOUR = 3600_000
const base = Date.UTC(2026, 10, 20, 0, 0, 0)

describe('distributed mode: ingest → Kafka → projection workers → ClickHouse → query', () => {
  it('lets an account made on one ingest process sign in on another at once', async () => {
    const [a, b] = hg.ingest
    const { email, password } = await hg.signUp(a)
    // The first request to the other process already knows the account: it reads what it lacks.
    const signIn = await hg.request(b!, 'POST', '/v1/auth/signin', { body: { email, password } })
    expect(signIn.status).toBe(200)
    const wrong = await hg.request(b!, 'POST', '/v1/auth/signin', {
      body: { email, password: 'not the password' },
    })
    expect(wrong.status).toBe(401)
  })

  it('counts events in the hourly rollup of their own event-time hour, through any ingest process', async () => {
    const [a, b] = hg.ingest
    const { token } = await hg.signUp(a)
    // The source is made on the other process, and used on the first.
    const source = await hg.createSource(token, b)
    const events = [
      { name: 'view', timestamp: new Date(base + 5 * HOUR + 10_000).toISOString(), subject: 'u1' },
      { name: 'view', timestamp: base + 2 * HOUR + 59 * 60_000, subject: 'u2' },
      { name: 'view', timestamp: base + 5 * HOUR + 3599_999, subject: 'u1' },
      { name: 'buy', timestamp: base, subject: 'u3', attrs: { price: 10.5 } },
      { name: 'view', timestamp: base + 2 * HOUR, subject: 'u3' },
    ]
    for (const [i, event] of events.entries()) {
      const response = await hg.request(i % 2 ? a! : b!, 'POST', '/v1/events', {
        token: source.apiToken,
        body: { events: [event] },
      })
      expect(response.status).toBe(200)
    }
    await hg.settled()
    const response = await hg.request(
      hg.query,
      'GET',
      `/v1/sources/${source.id}/rollups/hourly?from=${base}&to=${base + 24 * HOUR}`,
      { token },
    )
    expect(response.status).toBe(200)
    expect((response.body as { rows: unknown[] }).rows).toMatchObject([
      { hour: new Date(base).toISOString(), name: 'buy', events: 1, subjects: 1 },
      { hour: new Date(base + 2 * HOUR).toISOString(), name: 'view', events: 2, subjects: 2 },
      { hour: new Date(base + 5 * HOUR).toISOString(), name: 'view', events: 2, subjects: 1 },
    ])
  })

  it('counts a re-sent id once: in one batch, in later batches, and through another ingest process', async () => {
    const [a, b] = hg.ingest
    const { token } = await hg.signUp(a)
    const source = await hg.createSource(token, a)
    const event = (id: string, minute: number) => ({
      id,
      name: 'tap',
      timestamp: base + minute * 60_000,
      subject: id,
    })
    const first = await hg.request(a!, 'POST', '/v1/events', {
      token: source.apiToken,
      body: { events: [event('e1', 1), event('e2', 2), event('e1', 1)] },
    })
    expect(first.status).toBe(200)
    for (const via of [a!, b!]) {
      const again = await hg.request(via, 'POST', '/v1/events', {
        token: source.apiToken,
        body: { events: [event('e2', 2), event('e3', 3)] },
      })
      expect(again.status).toBe(200)
    }
    await hg.settled()
    const rollup = await hg.request(
      hg.query,
      'GET',
      `/v1/sources/${source.id}/rollups/hourly?from=${base}&to=${base + HOUR}`,
      { token },
    )
    expect((rollup.body as { rows: unknown[] }).rows).toMatchObject([
      { hour: new Date(base).toISOString(), name: 'tap', events: 3, subjects: 3 },
    ])
    const raw = await hg.request(
      hg.query,
      'GET',
      `/v1/sources/${source.id}/events?from=${base}&to=${base + HOUR}`,
      {
        token,
      },
    )
    expect((raw.body as { events: { id: string }[] }).events.map((e) => e.id).sort()).toEqual([
      'e1',
      'e2',
      'e3',
    ])
  })

  it('refuses bad input with a 4xx naming the field, and appends nothing', async () => {
    const { token } = await hg.signUp()
    const source = await hg.createSource(token)
    const bad = await hg.request(hg.ingest[1]!, 'POST', '/v1/events', {
      token: source.apiToken,
      body: {
        events: [
          { name: 'ok', timestamp: base },
          { name: '', timestamp: 'yesterday' },
        ],
      },
    })
    expect(bad.status).toBe(400)
    expect(JSON.stringify(bad.body)).toContain('events[1]')
    const unauthenticated = await hg.request(hg.ingest[0]!, 'POST', '/v1/events', {
      token: 'not-a-token',
      body: { events: [{ name: 'x', timestamp: base }] },
    })
    expect(unauthenticated.status).toBe(401)
    await hg.settled()
    const rollup = await hg.request(hg.query, 'GET', `/v1/sources/${source.id}/rollups/hourly?from=${base}`, {
      token,
    })
    expect((rollup.body as { rows: unknown[] }).rows).toEqual([])
  })

  it("keeps tenants apart: another account's source is not found", async () => {
    const owner = await hg.signUp()
    const source = await hg.createSource(owner.token)
    const other = await hg.signUp(hg.ingest[1])
    const response = await hg.request(
      hg.query,
      'GET',
      `/v1/sources/${source.id}/rollups/hourly?from=${base}`,
      {
        token: other.token,
      },
    )
    expect(response.status).toBe(404)
  })

  it('refuses a token or a source revoked through one ingest process on the other at once; what it sent stays', async () => {
    const [a, b] = hg.ingest
    const { token } = await hg.signUp(a)
    const source = await hg.createSource(token, a)
    const issued = await hg.request(a!, 'POST', `/v1/sources/${source.id}/tokens`, { token })
    expect(issued.status).toBe(201)
    const { apiToken: second, tokenId } = issued.body as { apiToken: string; tokenId: string }
    const send = (via: typeof a, apiToken: string, id: string) =>
      hg.request(via!, 'POST', '/v1/events', {
        token: apiToken,
        body: { events: [{ id, name: 'before', timestamp: base }] },
      })
    // The other process has let both tokens through.
    expect((await send(b, source.apiToken, 'first')).status).toBe(200)
    expect((await send(b, second, 'second')).status).toBe(200)

    // A token revoked through one process is a 401 on the other; the first token still sends.
    const revokeToken = `/v1/sources/${source.id}/tokens/${tokenId}`
    expect((await hg.request(a!, 'DELETE', revokeToken, { token })).status).toBe(204)
    expect((await send(b, second, 'refused')).status).toBe(401)
    expect((await send(b, source.apiToken, 'third')).status).toBe(200)

    // The source revoked through the other process is a 403 on the first, for every credential.
    expect((await hg.request(b!, 'DELETE', `/v1/sources/${source.id}`, { token })).status).toBe(204)
    expect((await send(a, source.apiToken, 'refused')).status).toBe(403)
    const session = await hg.request(a!, 'POST', '/v1/sessions', { token: source.apiToken, body: {} })
    expect(session.status).toBe(403)

    // What it sent before stays readable.
    await hg.settled()
    const rollup = await hg.request(hg.query, 'GET', `/v1/sources/${source.id}/rollups/hourly?from=${base}`, {
      token,
    })
    expect((rollup.body as { rows: unknown[] }).rows).toMatchObject([{ name: 'before', events: 3 }])
  })

  it('serves /healthz and Prometheus /metrics on every service', async () => {
    const live = [...hg.ingest, ...hg.workers.filter((w) => w !== null), hg.query]
    for (const service of live) {
      const health = await hg.request(service, 'GET', '/healthz')
      expect(health.status, service.name).toBe(200)
    }
    const ingestMetrics = (await hg.request(hg.ingest[0]!, 'GET', '/metrics')).body as string
    expect(ingestMetrics).toMatch(/hourglass_ingest_events_total\{service="ingest"\} \d+/)
    expect(ingestMetrics).toContain('hourglass_ingest_append_seconds_bucket')
    const workerMetrics = (
      await Promise.all(hg.workers.map((w) => (w ? hg.request(w, 'GET', '/metrics') : null)))
    ).map((r) => (r?.body as string) ?? '')
    expect(workerMetrics.join('\n')).toMatch(
      /hourglass_projection_consumer_lag\{partition="\d+",service="project"\} \d+/,
    )
    expect(workerMetrics.join('\n')).toContain('hourglass_projection_insert_seconds_bucket')
  })
})
