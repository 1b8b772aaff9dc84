import { hourlyRollupQuery, runQuery } from '@hourglass/query'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ctaClick, THE_EYE } from './harness/featureFlows.ts'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

let hg: TestHourglass
beforeAll(async () => {
  hg = await startTestHourglass()
})
afterAll(() => hg?.close())

const HOUR = 3600_000
/** The start of the hour `n` hours before the current one: a closed hour for n ≥ 1. */
const hoursAgo = (n: number) => Math.floor(Date.now() / HOUR) * HOUR - n * HOUR

interface SentEvent {
  readonly name: string
  readonly timestamp: number
  readonly subject: string
  readonly session?: string
}

const send = async (apiToken: string, events: readonly SentEvent[]) => {
  const posted = await hg.request('POST', '/v1/events', { token: apiToken, body: { events } })
  expect(posted.statusCode, posted.body).toBe(200)
  await hg.settled()
}

/** The hourly rollup of what a test sent: events and distinct subjects per hour and name. */
const expectedRollup = (sent: readonly SentEvent[]) => {
  const groups = new Map<string, { hour: number; name: string; events: number; subjects: Set<string> }>()
  for (const e of sent) {
    const hour = Math.floor(e.timestamp / HOUR) * HOUR
    const key = `${hour}|${e.name}`
    const group = groups.get(key) ?? { hour, name: e.name, events: 0, subjects: new Set<string>() }
    group.events++
    group.subjects.add(e.subject)
    groups.set(key, group)
  }
  return [...groups.values()]
    .sort((a, b) => a.hour - b.hour || a.name.localeCompare(b.name))
    .map((g) => ({
      hour: new Date(g.hour).toISOString(),
      name: g.name,
      events: g.events,
      subjects: g.subjects.size,
    }))
}

const rollupOf = async (token: string, sourceId: string, from: number, to: number) => {
  const answer = await hg.request('GET', `/v1/sources/${sourceId}/rollups/hourly?from=${from}&to=${to}`, {
    token,
  })
  expect(answer.statusCode, answer.body).toBe(200)
  return (answer.json().rows as { hour: string; name: string; events: number; subjects: number }[]).map(
    ({ hour, name, events, subjects }) => ({ hour, name, events, subjects }),
  )
}

describe('reads answered from the read cache', () => {
  it('shows in the next hourly rollup an event written into a closed hour it already answered', async () => {
    // Given events in three closed hours, and a rollup read twice (the second from the cache).
    const { token, accountId } = await hg.signUp()
    const source = await hg.createSource(token)
    const sent: SentEvent[] = [
      { name: 'open', timestamp: hoursAgo(5) + 60_000, subject: 'ann' },
      { name: 'open', timestamp: hoursAgo(5) + 120_000, subject: 'bob' },
      { name: 'buy', timestamp: hoursAgo(3) + 1_000, subject: 'ann' },
      { name: 'open', timestamp: hoursAgo(2) + 5_000, subject: 'cyd' },
    ]
    await send(source.apiToken, sent)
    const from = hoursAgo(6)
    const to = Date.now()
    expect(await rollupOf(token, source.id, from, to)).toEqual(expectedRollup(sent))
    expect(await rollupOf(token, source.id, from, to)).toEqual(expectedRollup(sent))

    // When a late event lands in the first of those hours, with a subject new to it.
    const late: SentEvent = { name: 'open', timestamp: hoursAgo(5) + 1_800_000, subject: 'dan' }
    await send(source.apiToken, [late])

    // Then the next read counts it, hour by hour as the warehouse does.
    const after = await rollupOf(token, source.id, from, to)
    expect(after).toEqual(expectedRollup([...sent, late]))
    const direct = await runQuery(hg.runtime.warehouse, hourlyRollupQuery, {
      accountId,
      sourceId: source.id,
      from,
      to,
      name: '',
    })
    expect(after.map((row) => row.events)).toEqual(direct.map((row) => row.events))
  })

  it("keeps each account's answers to itself", async () => {
    // Given two accounts, each with a source and events in the same closed hour, each read once.
    const a = await hg.signUp()
    const b = await hg.signUp()
    const sourceA = await hg.createSource(a.token)
    const sourceB = await hg.createSource(b.token)
    const hour = hoursAgo(4)
    const sentA = [{ name: 'view', timestamp: hour + 10, subject: 'a1' }]
    const sentB = [
      { name: 'view', timestamp: hour + 20, subject: 'b1' },
      { name: 'view', timestamp: hour + 30, subject: 'b2' },
    ]
    await send(sourceA.apiToken, sentA)
    await send(sourceB.apiToken, sentB)
    const range = [hoursAgo(5), Date.now()] as const
    expect(await rollupOf(a.token, sourceA.id, ...range)).toEqual(expectedRollup(sentA))

    // When each reads its own, and one asks for the other's.
    expect(await rollupOf(b.token, sourceB.id, ...range)).toEqual(expectedRollup(sentB))
    const foreign = await hg.request(
      'GET',
      `/v1/sources/${sourceA.id}/rollups/hourly?from=${range[0]}&to=${range[1]}`,
      { token: b.token },
    )

    // Then each sees its own events only, and the other's source is not found.
    expect(foreign.statusCode).toBe(404)
    expect(await rollupOf(a.token, sourceA.id, ...range)).toEqual(expectedRollup(sentA))
  })

  it('shows in the next page of raw events a late event that falls within it', async () => {
    // Given four events in closed hours, and the first page of two read (and kept).
    const { token } = await hg.signUp()
    const source = await hg.createSource(token)
    const times = [hoursAgo(6) + 1, hoursAgo(5) + 1, hoursAgo(3) + 1, hoursAgo(2) + 1]
    await send(
      source.apiToken,
      times.map((timestamp, i) => ({ name: `e${i}`, timestamp, subject: 's' })),
    )
    const path = `/v1/sources/${source.id}/events?from=${hoursAgo(7)}&to=${Date.now()}&limit=2`
    const page = async () => {
      const answer = await hg.request('GET', path, { token })
      expect(answer.statusCode, answer.body).toBe(200)
      return (answer.json().events as { name: string }[]).map((e) => e.name)
    }
    expect(await page()).toEqual(['e0', 'e1'])
    expect(await page()).toEqual(['e0', 'e1'])

    // When an event lands between the first two, and another after the page.
    await send(source.apiToken, [
      { name: 'between', timestamp: hoursAgo(6) + 1_000, subject: 's' },
      { name: 'later', timestamp: hoursAgo(1), subject: 's' },
    ])

    // Then the page shows the one within it.
    expect(await page()).toEqual(['e0', 'between'])
  })

  it("answers The Eye's list and its count from one statement, and shows a new event in the next read", async () => {
    // Given a The Eye user with one session and five events, two of them in another category.
    const { email, password } = await hg.signUp()
    const eye = (method: 'GET' | 'POST', url: string, token?: string, body?: unknown) =>
      hg.runtime.app.inject({
        method,
        url: `${THE_EYE}${url}`,
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Token ${token}` } : {}),
        },
        ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
      })
    const token = (await eye('POST', '/api-token-auth/', undefined, { username: email, password })).json()
      .token
    const session = (await eye('POST', '/sessions/', token)).json().id as string
    const ids: number[] = []
    for (let i = 0; i < 5; i++) {
      const category = i % 2 === 0 ? 'page interaction' : 'form interaction'
      const added = await eye('POST', '/events/', token, ctaClick(session, { category, name: `n${i}` }))
      expect(added.statusCode, added.body).toBe(201)
      ids.push(added.json().id)
    }
    await hg.settled()

    // When the list is read by category, a page at a time, past its end, and after one more event.
    const list = async (query: string) => {
      const answer = await eye('GET', `/events/?${query}`, token)
      expect(answer.statusCode, answer.body).toBe(200)
      const body = answer.json() as { count: number; next: string | null; results: { id: number }[] }
      return { count: body.count, next: body.next !== null, ids: body.results.map((r) => r.id) }
    }
    const pageInteraction = ids.filter((_, i) => i % 2 === 0).reverse()
    expect(await list('category=page%20interaction&page_size=2')).toEqual({
      count: 3,
      next: true,
      ids: pageInteraction.slice(0, 2),
    })
    expect(await list('category=page%20interaction&page_size=2&page=2')).toEqual({
      count: 3,
      next: false,
      ids: pageInteraction.slice(2),
    })
    expect(await list('category=page%20interaction&page_size=2&page=3')).toEqual({
      count: 3,
      next: false,
      ids: [],
    })
    const added = await eye('POST', '/events/', token, ctaClick(session, { category: 'page interaction' }))
    await hg.settled()

    // Then each answer is exact, and the new event is listed first.
    expect(await list('category=page%20interaction&page_size=2')).toEqual({
      count: 4,
      next: true,
      ids: [added.json().id, pageInteraction[0]],
    })
    expect(await list(`session_id=${session}&page_size=100`)).toEqual({
      count: 6,
      next: false,
      ids: [added.json().id, ...[...ids].reverse()],
    })
  })
})
