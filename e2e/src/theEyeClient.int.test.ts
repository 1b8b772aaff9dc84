import { theEyeSourceId } from '@hourglass/control'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

/**
 * Seed 002 as its own clients use it: the seed's curl commands and Django REST framework's
 * habits (a username, a token copied once and sent as "Authorization: Token …", a plain list),
 * knowing nothing of /v1. Only the account's admin (Django's superuser) uses the native API.
 */

const E = '/compat/the-eye'
const DRF_TOKEN = /^[0-9a-f]{40}$/

let hg: TestHourglass
let admin: { token: string; accountId: string; email: string; password: string }
const member = { username: 'admin', password: 'admin-password' }

const eye = (method: 'GET' | 'POST' | 'DELETE', url: string, token?: string, body?: unknown) =>
  hg.request(method, `${E}${url}`, {
    headers: token ? { authorization: `Token ${token}` } : {},
    ...(body === undefined ? {} : { body }),
  })
const signIn = async (username: string, password: string) => {
  const response = await eye('POST', '/api-token-auth/', undefined, { username, password })
  expect(response.statusCode, response.body).toBe(200)
  return response.json().token as string
}
const grant = (analyst: boolean) =>
  hg.request(analyst ? 'PUT' : 'DELETE', `/v1/account/analysts/${member.username}`, { token: admin.token })

const stamp = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '')

beforeAll(async () => {
  hg = await startTestHourglass()
  // Given an account (its admin) and a member, as Django's createsuperuser and admin would make them.
  admin = await hg.signUp()
  const registered = await hg.request('POST', '/v1/auth/members', { body: member })
  expect(registered.statusCode).toBe(201)
  expect((await grant(true)).statusCode).toBe(200)
})
afterAll(() => hg?.close())

describe('a seed 002 client (/compat/the-eye) that knows only the seed', () => {
  it('signs in with a plain username and gets a token of the shape DRF issues, valid after a restart', async () => {
    const token = await signIn(member.username, member.password)
    expect(token).toMatch(DRF_TOKEN)
    const session = await eye('POST', '/sessions/', token)
    expect(session.statusCode, session.body).toBe(201)
    await hg.restart()
    const listed = await eye('GET', '/sessions', token)
    expect(listed.statusCode, listed.body).toBe(200)
    expect(listed.json().map((s: { id: string }) => s.id)).toEqual([session.json().id])
    // The admin signs in with the account's e-mail, to the same sessions.
    const own = await signIn(admin.email, admin.password)
    expect(own).toMatch(DRF_TOKEN)
    expect((await eye('GET', '/sessions/', own)).json()).toEqual(listed.json())
  })

  it('refuses wrong credentials as the original does, and a member no account gave a role', async () => {
    const wrong = await eye('POST', '/api-token-auth', undefined, {
      username: member.username,
      password: 'nope',
    })
    expect(wrong.statusCode).toBe(400)
    expect(wrong.json().error.code).toBe('INVALID_CREDENTIALS')
    const loner = { username: 'loner', password: 'loner-password' }
    expect((await hg.request('POST', '/v1/auth/members', { body: loner })).statusCode).toBe(201)
    expect((await eye('POST', '/api-token-auth/', undefined, loner)).statusCode).toBe(403)
  })

  it('revokes a token at DELETE /api-token-auth/: refused from then on, the others still valid', async () => {
    const first = await signIn(member.username, member.password)
    const second = await signIn(member.username, member.password)
    expect(first).not.toBe(second)
    const revoked = await eye('DELETE', '/api-token-auth/', first)
    expect(revoked.statusCode, revoked.body).toBe(204)
    expect((await eye('GET', '/sessions/', first)).statusCode).toBe(401)
    expect((await eye('GET', '/events/', first)).statusCode).toBe(401)
    expect((await eye('GET', '/sessions/', second)).statusCode).toBe(200)
    expect((await eye('DELETE', '/api-token-auth', first)).statusCode).toBe(401)
    // An account token of the native API is not revocable here: it expires by itself.
    const native = await hg.request('DELETE', `${E}/api-token-auth/`, { token: admin.token })
    expect(native.statusCode).toBe(400)
  })

  it("ends a member's tokens when the account revokes the member's role", async () => {
    const token = await signIn(member.username, member.password)
    expect((await eye('GET', '/sessions/', token)).statusCode).toBe(200)
    expect((await grant(false)).statusCode).toBe(200)
    expect((await eye('GET', '/sessions/', token)).statusCode).toBe(401)
    expect((await eye('POST', '/api-token-auth/', undefined, member)).statusCode).toBe(403)
    expect((await grant(true)).statusCode).toBe(200)
    expect((await eye('GET', '/sessions/', await signIn(member.username, member.password))).statusCode).toBe(
      200,
    )
  })

  it("refuses an event with empty data or a timestamp in the future, with the original's reason", async () => {
    const token = await signIn(member.username, member.password)
    const session = (await eye('POST', '/sessions/', token)).json().id as string
    const event = {
      session_id: session,
      category: 'page interaction',
      name: 'cta click',
      data: { host: 'www.consumeraffairs.com', path: '/' },
      timestamp: '2021-01-01 09:15:27.243860',
    }
    const head = await hg.runtime.telemetry.head()
    const empty = await eye('POST', '/events/', token, { ...event, data: {} })
    expect(empty.statusCode).toBe(400)
    expect(empty.json().error.issues).toEqual([{ path: 'data', message: "The data can't be empty." }])
    const future = await eye('POST', '/events/', token, { ...event, timestamp: stamp(Date.now() + 3600_000) })
    expect(future.statusCode).toBe(400)
    expect(future.json().error.issues.map((i: { path: string }) => i.path)).toEqual(['timestamp'])
    expect(await hg.runtime.telemetry.head()).toBe(head)
    const past = await eye('POST', '/events/', token, { ...event, timestamp: stamp(Date.now() - 1000) })
    expect(past.statusCode, past.body).toBe(201)
  })

  it('answers GET /events/ with a plain array of every matching event, newest first, however many', async () => {
    // Given 6,000 more events of one session (past one batch of the stream), sent natively in bulk.
    const token = await signIn(member.username, member.password)
    const session = (await eye('POST', '/sessions/', token)).json().id as string
    const sourceId = theEyeSourceId(admin.accountId)
    const issued = await hg.request('POST', `/v1/sources/${sourceId}/tokens`, { token: admin.token })
    expect(issued.statusCode).toBe(201)
    const names = new Map<number, string>()
    for (let batch = 0; batch < 6; batch++) {
      const events = Array.from({ length: 1000 }, (_, k) => {
        const i = batch * 1000 + k
        return {
          name: i % 3 === 0 ? 'pageview' : 'cta click',
          category: 'page interaction',
          session,
          timestamp: Date.UTC(2021, 10, 12) + i * 1000,
          attrs: { i },
        }
      })
      const sent = await hg.request('POST', '/v1/events', { token: issued.json().apiToken, body: { events } })
      expect(sent.statusCode, sent.body.slice(0, 300)).toBe(200)
      for (const result of sent.json().results as { index: number; position: number }[])
        names.set(result.position, events[result.index]!.name)
    }
    await hg.settled()
    // When the client lists them, then it gets them all, as one array, newest first.
    const ofSession = await eye('GET', `/events/?session_id=${session}`, token)
    expect(ofSession.statusCode).toBe(200)
    expect(ofSession.headers['content-type']).toMatch(/^application\/json/)
    const listed = ofSession.json() as { id: number; name: string; session_id: string; data: { i: number } }[]
    const expected = [...names.keys()].sort((a, b) => b - a)
    expect(listed.map((e) => e.id)).toEqual(expected)
    for (const event of listed) {
      expect(event.name).toBe(names.get(event.id))
      expect(event.session_id).toBe(session)
    }
    const pageviews = await eye('GET', `/events/?name=pageview`, token)
    expect(pageviews.json().map((e: { id: number }) => e.id)).toEqual(
      expected.filter((id) => names.get(id) === 'pageview'),
    )
    // And a page only when it asks for one.
    const page = await eye('GET', `/events/?session_id=${session}&page=3&page_size=250`, token)
    expect(page.json()).toMatchObject({ count: expected.length, next: expect.stringContaining('page=4') })
    expect(page.json().results.map((e: { id: number }) => e.id)).toEqual(expected.slice(500, 750))
  })

  it('refuses a query parameter it does not know, naming it, instead of ignoring it', async () => {
    const token = await signIn(member.username, member.password)
    for (const [query, path] of [
      ['limit=10', 'querystring.limit'],
      ['sessiond_id=x', 'querystring.sessiond_id'],
      ['ordering=timestamp', 'querystring.ordering'],
    ]) {
      const response = await eye('GET', `/events/?${query}`, token)
      expect(response.statusCode, query).toBe(400)
      expect(response.json().error.issues.map((i: { path: string }) => i.path)).toEqual([path])
    }
    expect((await eye('GET', '/sessions/?page=2', token)).statusCode).toBe(400)
    expect((await eye('GET', '/event_detail/1/?format=json', token)).statusCode).toBe(400)
  })
})
