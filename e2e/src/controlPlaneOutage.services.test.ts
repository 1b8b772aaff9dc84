import { randomUUID } from 'node:crypto'
import { type PrivatePostgres, startPrivatePostgres } from '@hourglass/log/postgres/testing'
import {
  type DistributedHourglass,
  type ServiceProcess,
  startDistributedHourglass,
} from '@hourglass/scripts/distributed'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

/**
 * The control plane of distributed mode is PostgreSQL, which every process reaches by itself:
 * two ingest processes, a projection worker and a query process over a PostgreSQL server of
 * this test's own, which it stops in the middle of a load and starts again.
 */

let postgres: PrivatePostgres
let hg: DistributedHourglass
beforeAll(async () => {
  postgres = await startPrivatePostgres()
  hg = await startDistributedHourglass({
    brokers: process.env.KAFKA_BROKERS!,
    ingests: 2,
    workers: 1,
    postgresUrl: postgres.url,
  })
})
afterAll(async () => {
  await postgres?.start().catch(() => undefined)
  await hg?.close()
  await postgres?.destroy()
})

const HOUR = 3600_000
const base = Date.UTC(2026, 10, 21, 0, 0, 0)
const PASSWORD = 'correct horse battery'

/** Events of one source, each id counted once it is acknowledged. */
function eventSender(apiToken: string) {
  const acknowledged = new Set<string>()
  const statuses: number[] = []
  let next = 0
  return {
    acknowledged,
    statuses,
    async send(via: ServiceProcess) {
      const events = Array.from({ length: 20 }, () => {
        const n = next++
        return { id: `e${n}`, name: 'tap', timestamp: base + (n % 60) * 60_000, subject: `u${n % 7}` }
      })
      const answer = await hg.request(via, 'POST', '/v1/events', { token: apiToken, body: { events } })
      statuses.push(answer.status)
      if (answer.status === 200) for (const event of events) acknowledged.add(event.id)
      return answer.status
    },
  }
}

/** Events of the source in the warehouse, through the query process. */
const eventsInWarehouse = async (token: string, sourceId: string) => {
  const rollup = await hg.request(
    hg.query,
    'GET',
    `/v1/sources/${sourceId}/rollups/hourly?from=${base}&to=${base + HOUR}`,
    { token },
  )
  expect(rollup.status).toBe(200)
  return (rollup.body as { rows: { events: number }[] }).rows.reduce((sum, row) => sum + row.events, 0)
}

/** Resolves once `done()` holds, looking every 50 ms. */
async function until(done: () => boolean) {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 50))
}

/** Repeats a request until it answers `status`, or gives up after `attempts`; resolves with the last answer. */
async function retried(request: () => Promise<{ status: number }>, status: number, attempts = 120) {
  let answer = await request()
  for (let i = 1; i < attempts && answer.status !== status; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500))
    answer = await request()
  }
  return answer
}

describe('distributed mode: the control plane in PostgreSQL, reached by every process', () => {
  it('lets exactly one of two ingest processes racing on one stream win; the other answers 409', async () => {
    const [a, b] = hg.ingest
    for (let round = 0; round < 6; round++) {
      const email = `race-${randomUUID()}@example.com`
      const signUp = (via: ServiceProcess) =>
        hg.request(via, 'POST', '/v1/auth/signup', { body: { email, password: PASSWORD, name: 'Race' } })
      const answers = await Promise.all([signUp(a!), signUp(b!)])
      expect(answers.map((answer) => answer.status).sort()).toEqual([201, 409])
      expect(answers.find((answer) => answer.status === 409)!.body).toMatchObject({
        error: { code: 'CONFLICT' },
      })
      // The winner's account is one both processes know.
      for (const via of [a!, b!]) {
        const signIn = await hg.request(via, 'POST', '/v1/auth/signin', {
          body: { email, password: PASSWORD },
        })
        expect(signIn.status).toBe(200)
      }
    }
  })

  it('keeps taking telemetry while PostgreSQL is down, answers control writes 503 with Retry-After, loses nothing, and resumes by itself', async () => {
    const [a, b] = hg.ingest
    const account = await hg.signUp(a)
    const source = await hg.createSource(account.token, b)
    const sender = eventSender(source.apiToken)
    // Both ingest processes and the query process have read the source before PostgreSQL goes.
    for (const via of [a!, b!]) expect(await sender.send(via)).toBe(200)
    await hg.settled()
    expect(await eventsInWarehouse(account.token, source.id)).toBe(sender.acknowledged.size)

    // A load through both ingest processes, across the stop: batches before it, during it and after.
    let loading = true
    const load = (async () => {
      for (let i = 0; loading; i++) await sender.send(i % 2 ? a! : b!)
    })()
    const sentSoFar = sender.statuses.length
    await until(() => sender.statuses.length >= sentSoFar + 10)
    await postgres.stop()
    try {
      const sentBeforeStop = sender.statuses.length
      await until(() => sender.statuses.length >= sentBeforeStop + 20)
      loading = false
      await load
      // Every answer of the load was a 200: not one batch was refused while PostgreSQL went away.
      expect(new Set(sender.statuses)).toEqual(new Set([200]))
      for (const via of [a!, b!]) expect(await sender.send(via)).toBe(200)

      for (const via of [a!, b!]) {
        const created = await hg.request(via, 'POST', '/v1/sources', {
          token: account.token,
          body: { kind: 'app', name: `during-${randomUUID()}` },
        })
        expect(created.status).toBe(503)
        expect(Number(created.headers['retry-after'])).toBeGreaterThan(0)
        const signUp = await hg.request(via, 'POST', '/v1/auth/signup', {
          body: { email: `down-${randomUUID()}@example.com`, password: PASSWORD, name: 'Down' },
        })
        expect(signUp.status).toBe(503)
        expect(signUp.headers['retry-after']).toBeDefined()
      }

      // The worker projects what ingest took meanwhile; the query process reads it.
      await hg.settled()
      expect(await eventsInWarehouse(account.token, source.id)).toBe(sender.acknowledged.size)
    } finally {
      loading = false
      await load
      await postgres.start()
    }

    // Nobody restarts anything: control writes succeed again through both processes.
    for (const via of [a!, b!]) {
      const created = await retried(
        () =>
          hg.request(via, 'POST', '/v1/sources', {
            token: account.token,
            body: { kind: 'app', name: `after-${randomUUID()}` },
          }),
        201,
      )
      expect(created.status).toBe(201)
    }
    for (const via of [a!, b!]) expect(await sender.send(via)).toBe(200)

    const signIn = await hg.request(b!, 'POST', '/v1/auth/signin', {
      body: { email: account.email, password: account.password },
    })
    expect(signIn.status).toBe(200)
    await hg.settled()
    expect(await eventsInWarehouse(account.token, source.id)).toBe(sender.acknowledged.size)
    expect(sender.acknowledged.size).toBeGreaterThan(80)
  })
})
