import { replayEmbedded } from '@hourglass/scripts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

let hg: TestHourglass
beforeAll(async () => {
  hg = await startTestHourglass({ HOURGLASS_PROJECTION_BATCH_SIZE: '97' })
})
afterAll(() => hg?.close())

const HOUR = 3600_000
const base = Date.UTC(2026, 9, 1)

const allRollups = async (token: string, sourceId: string) => {
  const response = await hg.request(
    'GET',
    `/v1/sources/${sourceId}/rollups/hourly?from=${base}&to=${base + 40 * 24 * HOUR}`,
    { token },
  )
  expect(response.statusCode).toBe(200)
  return response.json().rows as { hour: string; name: string; events: number; subjects: number }[]
}

/** A deterministic spread of events over hours, names and subjects. */
const makeEvents = (count: number, prefix: string) =>
  Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${i}`,
    name: ['view', 'cart', 'buy'][i % 3]!,
    timestamp: base + ((i * 7919) % (30 * 24)) * HOUR + (i % 60) * 1000,
    subject: `user-${i % 37}`,
  }))

describe('idempotency, replay and restart', () => {
  it('counts a re-sent id once, in the same batch or a later one', async () => {
    const { token } = await hg.signUp()
    const source = await hg.createSource(token)
    const events = makeEvents(50, 'dup')
    const first = await hg.request('POST', '/v1/events', { token: source.apiToken, body: { events } })
    expect(first.json()).toMatchObject({ accepted: 50, duplicates: 0 })
    const again = await hg.request('POST', '/v1/events', {
      token: source.apiToken,
      body: { events: [...events.slice(0, 10), events[0], { ...events[1], name: 'changed' }] },
    })
    expect(again.json()).toMatchObject({ accepted: 0, duplicates: 12 })
    expect(again.json().results[10].position).toBe(first.json().results[0].position)
    await hg.settled()
    const rows = await allRollups(token, source.id)
    expect(rows.reduce((sum, row) => sum + row.events, 0)).toBe(50)
    expect(rows.some((row) => row.name === 'changed')).toBe(false)
  })

  it('rebuilds identical rollups when the projection is replayed from the log', async () => {
    const { token } = await hg.signUp()
    const sources = [await hg.createSource(token), await hg.createSource(token)]
    for (const [n, source] of sources.entries()) {
      for (let batch = 0; batch < 5; batch++) {
        const events = makeEvents(400, `s${n}-b${batch}`)
        const response = await hg.request('POST', '/v1/events', { token: source.apiToken, body: { events } })
        expect(response.statusCode).toBe(200)
      }
    }
    await hg.settled()
    const before = await Promise.all(sources.map((s) => allRollups(token, s.id)))
    expect(before[0]!.reduce((sum, row) => sum + row.events, 0)).toBe(2000)

    const progress: number[] = []
    const status = await replayEmbedded(hg.runtime, 'events', ({ committed }) => progress.push(committed))
    expect(status.committed).toBe(await hg.runtime.telemetry.head())
    expect(status.generation).toBe(1)
    // Progress is told as the rebuild advances (in bulk batches while it is behind), up to its end.
    expect(progress.length).toBeGreaterThan(1)
    expect(progress.at(-1)).toBe(status.committed)
    const after = await Promise.all(sources.map((s) => allRollups(token, s.id)))
    expect(after).toEqual(before)

    // Events that arrive after the replay are projected as usual.
    await hg.request('POST', '/v1/events', {
      token: sources[0]!.apiToken,
      body: { events: makeEvents(3, 'late') },
    })
    await hg.settled()
    const later = await allRollups(token, sources[0]!.id)
    expect(later.reduce((sum, row) => sum + row.events, 0)).toBe(2003)
  })

  it('replays through the operator endpoint, which needs the operator token', async () => {
    const refused = await hg.request('POST', '/v1/admin/projections/events/replay', { token: 'wrong' })
    expect(refused.statusCode).toBe(401)
    const unknown = await hg.request('POST', '/v1/admin/projections/nope/replay', { token: hg.adminToken })
    expect(unknown.statusCode).toBe(404)
    const started = await hg.request('POST', '/v1/admin/projections/events/replay', { token: hg.adminToken })
    expect(started.statusCode).toBe(202)
    let status = (await hg.request('GET', '/v1/admin/status', { token: hg.adminToken })).json()
    for (let i = 0; i < 600 && !status.replay.finishedAt; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      status = (await hg.request('GET', '/v1/admin/status', { token: hg.adminToken })).json()
    }
    expect(status.replay).toMatchObject({ projection: 'events', error: null })
    expect(status.replay.committed).toBe(status.replay.target)
    expect(status.projections[0]).toMatchObject({ projection: 'events', key: 'events@v1', lag: 0 })
  })

  it('keeps every event, account and token across a restart', async () => {
    const { token, email, password } = await hg.signUp()
    const source = await hg.createSource(token)
    await hg.request('POST', '/v1/events', {
      token: source.apiToken,
      body: { events: makeEvents(30, 'keep') },
    })
    await hg.settled()
    const before = await allRollups(token, source.id)
    await hg.restart()
    const signIn = await hg.request('POST', '/v1/auth/signin', { body: { email, password } })
    expect(signIn.statusCode).toBe(200)
    expect(await allRollups(signIn.json().token, source.id)).toEqual(before)
    const more = await hg.request('POST', '/v1/events', {
      token: source.apiToken,
      body: { events: makeEvents(31, 'keep') },
    })
    expect(more.json()).toMatchObject({ accepted: 1, duplicates: 30 })
  })
})
