import { randomUUID } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { compatPerson, ctaClick, STORE_STATS, THE_EYE } from './harness/featureFlows.ts'
import { seedReceipt } from './harness/receiptFixtures.ts'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

/**
 * A source revoked by its owner sends nothing from then on, with any credential, while what it
 * sent before stays readable; one API token revoked is refused while the source's others work.
 */

let hg: TestHourglass
beforeAll(async () => {
  hg = await startTestHourglass()
})
afterAll(() => hg?.close())

const HOUR = 3600_000
const base = Date.UTC(2026, 4, 10)
const REVOKED_SOURCE = 'the source has been revoked: it sends nothing, with any credential'

/** Status, error code and message of each answer, by what was tried. */
const outcomes = async (attempts: [string, Promise<LightMyRequestResponse>][]) =>
  Promise.all(
    attempts.map(async ([what, pending]) => {
      const answer = await pending
      return [what, answer.statusCode, answer.json().error?.code, answer.json().error?.message]
    }),
  )

const sendEvents = (token: string, ...names: string[]) =>
  hg.request('POST', '/v1/events', {
    token,
    body: { events: names.map((name, i) => ({ id: `${name}-${i}`, name, timestamp: base + i * HOUR })) },
  })

describe('a revoked source', () => {
  it('sends nothing with any of its tokens, gets no new token or session, and its events stay readable', async () => {
    // Given a source with a second API token, a session and two events sent before it is revoked.
    const { token } = await hg.signUp()
    const source = await hg.createSource(token, 'app')
    const issued = await hg.request('POST', `/v1/sources/${source.id}/tokens`, { token })
    expect(issued.statusCode, issued.body).toBe(201)
    const second = issued.json().apiToken as string
    const session = await hg.request('POST', '/v1/sessions', { token: source.apiToken, body: {} })
    expect(session.statusCode, session.body).toBe(201)
    expect((await sendEvents(source.apiToken, 'before', 'before')).statusCode).toBe(200)

    // When its owner revokes it, twice.
    const revoked = await hg.request('DELETE', `/v1/sources/${source.id}`, { token })
    expect(revoked.statusCode, revoked.body).toBe(204)
    const again = await hg.request('DELETE', `/v1/sources/${source.id}`, { token })
    expect(again.statusCode, again.body).toBe(204)
    const head = await hg.runtime.telemetry.head()

    // Then each of its credentials is refused as forbidden, and the log holds nothing more.
    const event = { events: [{ name: 'after', timestamp: base, session: session.json().id }] }
    const answers = await outcomes([
      ['first token: events', hg.request('POST', '/v1/events', { token: source.apiToken, body: event })],
      ['second token: events', hg.request('POST', '/v1/events', { token: second, body: event })],
      ['first token: session', hg.request('POST', '/v1/sessions', { token: source.apiToken, body: {} })],
      ["owner's token: session", hg.request('POST', `/v1/sources/${source.id}/sessions`, { token })],
      ["owner's token: new API token", hg.request('POST', `/v1/sources/${source.id}/tokens`, { token })],
    ])
    expect(answers).toEqual(answers.map(([what]) => [what, 403, 'FORBIDDEN', REVOKED_SOURCE]))
    expect(await hg.runtime.telemetry.head()).toBe(head)

    // And the listing says when it was revoked, once however often it was asked.
    const listed = await hg.request('GET', '/v1/sources', { token })
    const [shown] = listed.json().sources
    expect(shown).toMatchObject({ id: source.id, revokedAt: expect.any(String) })
    expect(Date.parse(shown.revokedAt)).toBeGreaterThanOrEqual(Date.parse(shown.createdAt))
    // As does the source read alone.
    const one = await hg.request('GET', `/v1/sources/${source.id}`, { token })
    expect(one.statusCode, one.body).toBe(200)
    expect(one.json()).toEqual(shown)

    // And its owner still reads what it sent before.
    await hg.settled()
    const rollup = await hg.request(
      'GET',
      `/v1/sources/${source.id}/rollups/hourly?from=${base}&to=${base + 24 * HOUR}`,
      { token },
    )
    expect(rollup.statusCode, rollup.body).toBe(200)
    expect(rollup.json().rows.map((row: { events: number }) => row.events)).toEqual([1, 1])
    const events = await hg.request(
      'GET',
      `/v1/sources/${source.id}/events?from=${base}&to=${base + 24 * HOUR}`,
      { token },
    )
    expect(events.json().events.map((e: { name: string }) => e.name)).toEqual(['before', 'before'])
  })

  it("is another account's to revoke only in name: 404, as for an unknown id, and nothing changes", async () => {
    const owner = await hg.signUp()
    const intruder = await hg.signUp()
    const source = await hg.createSource(owner.token, 'app')
    const answers = await outcomes([
      ['another account', hg.request('DELETE', `/v1/sources/${source.id}`, { token: intruder.token })],
      ['unknown id', hg.request('DELETE', `/v1/sources/${randomUUID()}`, { token: owner.token })],
      [
        "another account's token",
        hg.request('DELETE', `/v1/sources/${source.id}/tokens/0123456789abcdef`, { token: intruder.token }),
      ],
      ['token listing', hg.request('GET', `/v1/sources/${source.id}/tokens`, { token: intruder.token })],
      ['source read', hg.request('GET', `/v1/sources/${source.id}`, { token: intruder.token })],
      ['unknown id read', hg.request('GET', `/v1/sources/${randomUUID()}`, { token: owner.token })],
    ])
    expect(answers.map(([what, status, code]) => [what, status, code])).toEqual(
      answers.map(([what]) => [what, 404, 'NOT_FOUND']),
    )
    expect((await sendEvents(source.apiToken, 'still-sends')).statusCode).toBe(200)
    const listed = await hg.request('GET', '/v1/sources', { token: owner.token })
    expect(listed.json().sources[0]).not.toHaveProperty('revokedAt')
    const read = await hg.request('GET', `/v1/sources/${source.id}`, { token: owner.token })
    expect(read.json()).toEqual(listed.json().sources[0])
    expect(read.json()).not.toHaveProperty('revokedAt')
  })

  it('answers 400 naming the field for an id that cannot be one', async () => {
    const { token } = await hg.signUp()
    const source = await hg.createSource(token, 'app')
    const answers = [
      await hg.request('DELETE', `/v1/sources/${'x'.repeat(65)}`, { token }),
      await hg.request('DELETE', `/v1/sources/${source.id}/tokens/not-a-token-id`, { token }),
      await hg.request('GET', `/v1/sources/${'x'.repeat(65)}`, { token }),
    ]
    expect(answers.map((answer) => answer.statusCode)).toEqual([400, 400, 400])
    expect(answers.map((answer) => answer.json().error.issues[0].path)).toEqual([
      'params.id',
      'params.tokenId',
      'params.id',
    ])
  })

  it('that is a store refuses its API key, its access token and the seed routes', async () => {
    // Given a store with an access token and a person, revoked as a source by its owner.
    const { token } = await hg.signUp()
    const created = await hg.request('POST', '/v1/stores', { token, body: { name: 'Gone shop' } })
    const { id: storeId, number, apiKey } = created.json() as { id: string; number: number; apiKey: string }
    const auth = await hg.request('POST', '/v1/stores/auth', { body: { apiKey } })
    const accessToken = auth.json().accessToken as string
    const person = await hg.request('POST', `${STORE_STATS}/api/user`, {
      token: accessToken,
      body: compatPerson('gone'),
    })
    expect(person.statusCode, person.body).toBe(201)
    const userId = person.json().id as string
    expect((await hg.request('DELETE', `/v1/sources/${storeId}`, { token })).statusCode).toBe(204)
    const head = await hg.runtime.telemetry.head()

    // When it sends with each credential it has.
    const receipt = { ...seedReceipt(), transaction_id: `gone-${randomUUID()}` }
    const answers = await outcomes([
      ['API key: receipts', hg.request('POST', '/v1/receipts', { token: apiKey, body: receipt })],
      ['API key: access token', hg.request('POST', '/v1/stores/auth', { body: { apiKey } })],
      [
        'access token: store event',
        hg.request('POST', '/v1/store-events', { token: accessToken, body: { type: 'visit', userId } }),
      ],
      [
        'access token: seed event',
        hg.request('POST', `${STORE_STATS}/api/event`, {
          token: accessToken,
          body: { type: 'visit', store_id: number, user_id: userId },
        }),
      ],
    ])

    // Then each is refused as forbidden, and the log holds nothing more.
    expect(answers).toEqual(answers.map(([what]) => [what, 403, 'FORBIDDEN', REVOKED_SOURCE]))
    expect(await hg.runtime.telemetry.head()).toBe(head)
  })
  it("that is an account's The Eye site takes no session and no event with the account's The Eye token", async () => {
    // Given an account signed in to The Eye, with a session of its site, which its owner revokes.
    const { token, email, password } = await hg.signUp()
    const auth = await hg.request('POST', `${THE_EYE}/api-token-auth/`, {
      body: { username: email, password },
    })
    const eye = { authorization: `Token ${auth.json().token}` }
    const session = await hg.request('POST', `${THE_EYE}/sessions/`, { headers: eye })
    expect(session.statusCode, session.body).toBe(201)
    const [site] = (await hg.request('GET', '/v1/sources', { token })).json().sources
    expect(site).toMatchObject({ kind: 'site', name: 'the-eye' })
    expect((await hg.request('DELETE', `/v1/sources/${site.id}`, { token })).statusCode).toBe(204)

    // When it starts a session and sends an event of the one it has.
    const answers = await outcomes([
      ['session', hg.request('POST', `${THE_EYE}/sessions/`, { headers: eye })],
      [
        'event',
        hg.request('POST', `${THE_EYE}/events/`, { headers: eye, body: ctaClick(session.json().id) }),
      ],
    ])

    // Then both are refused as forbidden.
    expect(answers).toEqual(answers.map(([what]) => [what, 403, 'FORBIDDEN', REVOKED_SOURCE]))
  })
})

describe('a revoked API token', () => {
  it("is refused with 401 while the source's other tokens keep sending; the listing says which and when", async () => {
    // Given a source with two tokens, each with its id.
    const { token } = await hg.signUp()
    const created = await hg.request('POST', '/v1/sources', {
      token,
      body: { kind: 'app', name: 'two-tokens' },
    })
    expect(created.statusCode, created.body).toBe(201)
    const { id, apiToken: first, tokenId: firstId } = created.json()
    const issued = (await hg.request('POST', `/v1/sources/${id}/tokens`, { token })).json()
    expect(firstId).toMatch(/^[0-9a-f]{16}$/)
    expect(issued.tokenId).toMatch(/^[0-9a-f]{16}$/)
    expect(issued.tokenId).not.toBe(firstId)

    // When the first is revoked, twice.
    const revoke = () => hg.request('DELETE', `/v1/sources/${id}/tokens/${firstId}`, { token })
    expect((await revoke()).statusCode).toBe(204)
    expect((await revoke()).statusCode).toBe(204)

    // Then it is refused as revoked, and the other one still sends.
    const refused = await sendEvents(first, 'refused')
    expect(refused.statusCode, refused.body).toBe(401)
    expect(refused.json().error).toMatchObject({
      code: 'UNAUTHENTICATED',
      message: 'the API token has been revoked',
    })
    expect((await sendEvents(issued.apiToken, 'sent')).statusCode).toBe(200)
    // And the listing names both by id, with no secret, the first one revoked.
    const listed = await hg.request('GET', `/v1/sources/${id}/tokens`, { token })
    expect(listed.statusCode, listed.body).toBe(200)
    expect(listed.json().tokens).toEqual([
      { tokenId: firstId, createdAt: expect.any(String), revokedAt: expect.any(String) },
      { tokenId: issued.tokenId, createdAt: expect.any(String), revokedAt: null },
    ])
    expect(listed.body).not.toContain(first.slice(-43))
    // An id the source does not have is a 404.
    const unknown = await hg.request('DELETE', `/v1/sources/${id}/tokens/0123456789abcdef`, { token })
    expect(unknown.statusCode, unknown.body).toBe(404)
  })
})
