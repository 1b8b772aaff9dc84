import { tables } from '@hourglass/projections'
import { type DistributedHourglass, startDistributedHourglass } from '@hourglass/scripts/distributed'
import { type LocalKafka, startLocalKafka } from '@hourglass/scripts/kafka'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'

/**
 * The broker stops in the middle of a load and comes back: producers get a clear 503 (not a
 * hang) while it is down, and no event that was acknowledged is lost. This test starts a
 * broker of its own (scripts/src/kafka/localKafka.ts), since it has to stop it.
 */

const APPEND_TIMEOUT_MS = 3000
const PER_REQUEST = 200
const EVENTS = 20_000
const base = Date.UTC(2026, 8, 1)

let kafka: LocalKafka
let hg: DistributedHourglass
beforeAll(async () => {
  kafka = await startLocalKafka({ heap: '384m' })
  hg = await startDistributedHourglass({
    brokers: kafka.brokers,
    ingests: 1,
    workers: 1,
    partitions: 2,
    env: { HOURGLASS_APPEND_TIMEOUT_MS: String(APPEND_TIMEOUT_MS) },
  })
})
afterAll(async () => {
  await hg?.close()
  await kafka?.destroy()
})

describe('the Kafka broker stopped and restarted mid-load', () => {
  it('answers 503 quickly while it is down, and loses no acknowledged event', async () => {
    const { token, accountId } = await hg.signUp()
    const source = await hg.createSource(token)
    const statuses = new Map<number, number>()
    let slowest = 0
    let acknowledged = 0
    let refusedWhileDown = 0
    const state = { phase: 'before' as 'before' | 'down' | 'after' }

    const outage = (async () => {
      while (acknowledged < EVENTS / 4) await new Promise((r) => setTimeout(r, 50))
      await kafka.stop()
      state.phase = 'down'
      // Long enough for several appends to time out, and for the workers to notice.
      await new Promise((r) => setTimeout(r, 8000))
      await kafka.start()
      state.phase = 'after'
    })()

    for (let request = 0; request * PER_REQUEST < EVENTS; request++) {
      const events = Array.from({ length: PER_REQUEST }, (_, i) => {
        const n = request * PER_REQUEST + i
        return { id: `r-${n}`, name: 'reading', timestamp: base + (n % 24) * 3600_000, subject: `d${n % 13}` }
      })
      for (let attempt = 0; ; attempt++) {
        const response = await hg.request(hg.ingest[0]!, 'POST', '/v1/events', {
          token: source.apiToken,
          body: { events },
          timeoutMs: 20_000,
        })
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
        slowest = Math.max(slowest, response.ms)
        if (response.status === 200) break
        expect(response.status).toBe(503)
        expect(response.body).toMatchObject({ error: { code: 'UNAVAILABLE' } })
        if (state.phase === 'down') refusedWhileDown++
        if (attempt > 200) throw new Error('the broker did not come back')
        await new Promise((r) => setTimeout(r, 250))
      }
      acknowledged += events.length
    }
    await outage
    expect(refusedWhileDown).toBeGreaterThan(0)
    // No hang: a refused append answers within the append timeout, plus the request's own work.
    expect(slowest).toBeLessThan(APPEND_TIMEOUT_MS + 4000)
    expect([...statuses.keys()].sort()).toEqual([200, 503])

    await hg.settled(240_000)
    const result = await hg.warehouse.client.query({
      query: `SELECT sum(events) AS events FROM ${hg.warehouse.table(tables.rollupHourly)}
              WHERE account_id = {accountId:String}`,
      query_params: { accountId },
      format: 'JSONEachRow',
    })
    const [row] = z.array(z.object({ events: z.coerce.number() })).parse(await result.json())
    expect(row?.events).toBe(EVENTS)
    const raw = await hg.warehouse.client.query({
      query: `SELECT count() AS n, uniqExact(id) AS ids FROM ${hg.warehouse.table(tables.eventsRaw)}
              WHERE account_id = {accountId:String}`,
      query_params: { accountId },
      format: 'JSONEachRow',
    })
    expect(
      z.array(z.object({ n: z.coerce.number(), ids: z.coerce.number() })).parse(await raw.json()),
    ).toEqual([{ n: EVENTS, ids: EVENTS }])
    process.stdout.write(
      `broker restart: statuses ${JSON.stringify(Object.fromEntries(statuses))}, slowest answer ${Math.round(slowest)} ms\n`,
    )
  })
})
