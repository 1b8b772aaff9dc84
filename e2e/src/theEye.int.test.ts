import { randomUUID } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ctaClick, THE_EYE as E } from './harness/featureFlows.ts'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

let hg: TestHourglass
beforeAll(async () => {
  hg = await startTestHourglass()
})
afterAll(() => hg?.close())

/** A request as The Eye's clients send it: JSON content type and `Authorization: Token <token>`. */
const eye = (method: 'GET' | 'POST', url: string, token?: string, body?: unknown) =>
  hg.runtime.app.inject({
    method,
    url: `${E}${url}`,
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Token ${token}` } : {}),
    },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  })

/** An Hourglass account, signed in to The Eye with its e-mail address as username. */
const eyeUser = async () => {
  const { email, password } = await hg.signUp()
  const auth = await eye('POST', '/api-token-auth/', undefined, { username: email, password })
  expect(auth.statusCode).toBe(200)
  return auth.json().token as string
}

const newSession = async (token: string) => {
  const created = await eye('POST', '/sessions/', token)
  expect(created.statusCode).toBe(201)
  return created.json().id as string
}

/**
 * Reads the newest event until it is this one. A read waits up to a second for the projection
 * (the bench measures that); the test polls, bounded, so that a loaded machine cannot fail it.
 */
const newestIs = async (token: string, id: number) => {
  for (let attempt = 0; attempt < 100; attempt++) {
    const page = await eye('GET', '/events/?page_size=1', token)
    if (page.json().results[0]?.id === id) return true
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return false
}

describe('The Eye (seed 002) at /compat/the-eye', () => {
  it('walks the seed: a token, a session, an event, the list, the filters and the event by id', async () => {
    // Given a token and a session, created as the seed's curl commands do.
    const { email, password } = await hg.signUp()
    const auth = await eye('POST', '/api-token-auth/', undefined, { username: email, password })
    expect(auth.statusCode).toBe(200)
    const token = auth.json().token as string
    const created = await eye('POST', '/sessions/', token)
    expect(created.statusCode).toBe(201)
    const sessionId = created.json().id as string
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/)
    const sessions = await eye('GET', '/sessions/', token)
    expect(sessions.json().map((s: { id: string }) => s.id)).toEqual([sessionId])

    // When the seed's event is added.
    const added = await eye('POST', '/events/', token, ctaClick(sessionId))
    expect(added.statusCode, added.body).toBe(201)
    const stored = added.json()
    expect(stored).toEqual({
      id: expect.any(Number),
      session_id: sessionId,
      category: 'page interaction',
      name: 'cta click',
      data: { host: 'www.consumeraffairs.com', path: '/', element: 'chat bubble' },
      timestamp: '2021-01-01T09:15:27.243Z',
    })

    // Then it is listed, and found by id.
    expect(await newestIs(token, stored.id)).toBe(true)
    const listed = await eye('GET', '/events/', token)
    expect(listed.statusCode).toBe(200)
    expect(listed.json()).toEqual([stored])
    const detail = await eye('GET', `/event_detail/${stored.id}`, token)
    expect(detail.statusCode).toBe(200)
    expect(detail.json()).toEqual(stored)
    expect((await eye('GET', `/event_detail/${stored.id}/`, token)).json()).toEqual(stored)

    // And each of the seed's searches finds it, or not.
    const search = async (query: string) =>
      (await eye('GET', `/events/?${query}`, token)).json().map((e: { id: number }) => e.id)
    expect(await search('category=page%20interaction')).toEqual([stored.id])
    expect(await search('category=navigation')).toEqual([])
    expect(await search(`session_id=${sessionId}`)).toEqual([stored.id])
    expect(await search(`session_id=${randomUUID()}`)).toEqual([])
    expect(await search('name=cta%20click')).toEqual([stored.id])
    expect(await search('name=pageview')).toEqual([])
    expect(await search('timestamp=2021-01-01T09:15:27.243860Z')).toEqual([stored.id])
    expect(await search('timestamp=2021-11-12T12:30:06.902847Z')).toEqual([])
  })

  it('lists every accepted event, newest first, a page at a time', async () => {
    const token = await eyeUser()
    const sessions = [await newSession(token), await newSession(token)]
    const ids: number[] = []
    for (let i = 0; i < 12; i++) {
      const added = await eye(
        'POST',
        '/events/',
        token,
        ctaClick(sessions[i % 2]!, {
          name: i % 3 === 0 ? 'pageview' : 'cta click',
          data: { i, nested: { list: [i, `${i}`], ok: true } },
          timestamp: `2021-11-12T12:${String(i).padStart(2, '0')}:06.902847Z`,
        }),
      )
      expect(added.statusCode).toBe(201)
      ids.push(added.json().id)
      expect(await newestIs(token, added.json().id)).toBe(true)
    }
    const seen: number[] = []
    let url: string | null = `${E}/events/?page_size=5`
    let pages = 0
    while (url) {
      const page: LightMyRequestResponse = await hg.runtime.app.inject({
        method: 'GET',
        url,
        headers: { authorization: `Token ${token}` },
      })
      expect(page.statusCode).toBe(200)
      expect(page.json().count).toBe(12)
      seen.push(...page.json().results.map((e: { id: number }) => e.id))
      const next: string | null = page.json().next
      url = next ? new URL(next).pathname + new URL(next).search : null
      pages++
    }
    expect(pages).toBe(3)
    expect(seen).toEqual([...ids].reverse())
    const last = await eye('GET', '/events/?page_size=5&page=3', token)
    expect(last.json().previous).toContain('page=2')
    const bySession = await eye('GET', `/events/?session_id=${sessions[0]}&name=pageview`, token)
    expect(bySession.json()).toHaveLength(ids.filter((_, i) => i % 2 === 0 && i % 3 === 0).length)
    const since = await eye('GET', '/events/?timestamp=2021-11-12T12:07:00Z', token)
    expect(since.json()).toHaveLength(5)
    const detail = await eye('GET', `/event_detail/${ids[4]}`, token)
    expect(detail.json().data).toEqual({ i: 4, nested: { list: [4, '4'], ok: true } })
  })

  it("keeps each account's sessions and events to itself", async () => {
    const mine = await eyeUser()
    const theirs = await eyeUser()
    const session = await newSession(mine)
    const added = await eye('POST', '/events/', mine, ctaClick(session))
    expect(added.statusCode).toBe(201)
    expect((await eye('GET', '/sessions/', theirs)).json()).toEqual([])
    expect((await eye('GET', '/events/', theirs)).json()).toEqual([])
    expect((await eye('GET', `/event_detail/${added.json().id}`, theirs)).statusCode).toBe(404)
    const before = await hg.runtime.telemetry.head()
    const foreign = await eye('POST', '/events/', theirs, ctaClick(session))
    expect(foreign.statusCode).toBe(400)
    expect(foreign.json().error.issues[0].path).toBe('session_id')
    expect(await hg.runtime.telemetry.head()).toBe(before)
  })

  it('shows its sessions and events through the native API too, with sessions in the hourly rollup', async () => {
    const { token: accountToken, email, password } = await hg.signUp()
    const token = (await eye('POST', '/api-token-auth/', undefined, { username: email, password })).json()
      .token
    const sessions = [await newSession(token), await newSession(token)]
    for (const [i, session] of [0, 1, 1].map((s, i) => [i, sessions[s]!] as const)) {
      const added = await eye(
        'POST',
        '/events/',
        token,
        ctaClick(session, { timestamp: `2021-01-01 09:0${i}:00` }),
      )
      expect(added.statusCode).toBe(201)
    }
    await hg.settled()
    const [source] = (await hg.request('GET', '/v1/sources', { token: accountToken })).json().sources
    expect(source).toMatchObject({ kind: 'site', name: 'the-eye' })
    const rollup = await hg.request(
      'GET',
      `/v1/sources/${source.id}/rollups/hourly?from=2021-01-01&to=2021-01-02`,
      { token: accountToken },
    )
    expect(rollup.json().rows).toEqual([
      { hour: '2021-01-01T09:00:00.000Z', name: 'cta click', events: 3, subjects: 0, sessions: 2 },
    ])
  })
})

describe('bad input to The Eye API', () => {
  let token: string
  let session: string
  beforeAll(async () => {
    token = await eyeUser()
    session = await newSession(token)
  })

  const cases: [string, () => unknown, string][] = [
    ['an unknown session', () => ctaClick(randomUUID()), 'session_id'],
    ['no session', () => ({ ...ctaClick(session), session_id: undefined }), 'session_id'],
    ['data that is not an object', () => ctaClick(session, { data: 'chat bubble' }), 'data'],
    ['data that is a list', () => ctaClick(session, { data: [1, 2] }), 'data'],
    ['no timestamp', () => ({ ...ctaClick(session), timestamp: undefined }), 'timestamp'],
    ['a timestamp that is no time', () => ctaClick(session, { timestamp: 'yesterday' }), 'timestamp'],
    [
      'a day the month does not have',
      () => ctaClick(session, { timestamp: '2021-02-31 10:00:00' }),
      'timestamp',
    ],
    ['a timestamp before 2000', () => ctaClick(session, { timestamp: '1999-12-31 23:59:59' }), 'timestamp'],
    ['a category of the wrong type', () => ctaClick(session, { category: 7 }), 'category'],
    ['a category longer than 50', () => ctaClick(session, { category: 'c'.repeat(51) }), 'category'],
    ['an empty name', () => ctaClick(session, { name: '' }), 'name'],
    ['a value too long in data', () => ctaClick(session, { data: { host: 'h'.repeat(5000) } }), 'data.host'],
  ]

  it.each(cases)(
    'refuses an event with %s: a 400 naming the field, nothing appended',
    async (_, body, path) => {
      const before = await hg.runtime.telemetry.head()
      const response = await eye('POST', '/events/', token, body())
      expect(response.statusCode, response.body).toBe(400)
      expect(response.json().error.issues.map((i: { path: string }) => i.path)).toContain(path)
      expect(await hg.runtime.telemetry.head()).toBe(before)
    },
  )

  it('refuses requests without a valid token, wrong credentials and malformed JSON', async () => {
    const before = await hg.runtime.telemetry.head()
    for (const [method, url] of [
      ['GET', '/sessions/'],
      ['POST', '/sessions/'],
      ['GET', '/events/'],
      ['POST', '/events/'],
      ['GET', '/event_detail/1'],
    ] as const) {
      for (const bad of [undefined, 'nonsense']) {
        const response = await eye(method, url, bad, method === 'POST' ? ctaClick(session) : undefined)
        expect(response.statusCode, `${method} ${url}`).toBe(401)
      }
    }
    const wrong = await eye('POST', '/api-token-auth/', undefined, {
      username: 'nobody@example.com',
      password: 'x',
    })
    expect(wrong.statusCode).toBe(400)
    expect(wrong.json().error.code).toBe('INVALID_CREDENTIALS')
    const malformed = await hg.runtime.app.inject({
      method: 'POST',
      url: `${E}/events/`,
      headers: { 'content-type': 'application/json', authorization: `Token ${token}` },
      payload: '{"session_id": ',
    })
    expect(malformed.statusCode).toBe(400)
    expect(malformed.json().error.code).toBe('MALFORMED_JSON')
    for (const query of ['page=0', 'page_size=5000', 'timestamp=soon', 'page=x']) {
      expect((await eye('GET', `/events/?${query}`, token)).statusCode, query).toBe(400)
    }
    expect((await eye('GET', '/event_detail/abc', token)).statusCode).toBe(404)
    expect((await eye('GET', '/event_detail/999999999', token)).statusCode).toBe(404)
    expect(await hg.runtime.telemetry.head()).toBe(before)
  })
})
