import { parseApiToken } from '@hourglass/control'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

let hg: TestHourglass
beforeAll(async () => {
  hg = await startTestHourglass()
})
afterAll(() => hg?.close())

describe('accounts', () => {
  it('signs up, signs in with the same password, refreshes the token, and refuses a wrong password', async () => {
    const { email, password, token } = await hg.signUp()
    const signIn = await hg.request('POST', '/v1/auth/signin', {
      body: { email: email.toUpperCase(), password },
    })
    expect(signIn.statusCode).toBe(200)
    const refreshed = await hg.request('POST', '/v1/auth/refresh', { token: signIn.json().token })
    expect(refreshed.statusCode).toBe(200)
    const sources = await hg.request('GET', '/v1/sources', { token: refreshed.json().token })
    expect(sources.statusCode).toBe(200)
    expect(sources.json()).toEqual({ sources: [] })
    const wrong = await hg.request('POST', '/v1/auth/signin', { body: { email, password: `${password}!` } })
    expect(wrong.statusCode).toBe(401)
    const unknown = await hg.request('POST', '/v1/auth/signin', { body: { email: `x${email}`, password } })
    expect(unknown.statusCode).toBe(401)
    expect(unknown.json().error.message).toBe(wrong.json().error.message)
    expect(token).not.toBe(signIn.json().token)
  })

  it('refuses a second account with the same e-mail, also when both sign up at once', async () => {
    const { email } = await hg.signUp()
    const again = await hg.request('POST', '/v1/auth/signup', {
      body: { email, password: 'another password', name: 'X' },
    })
    expect(again.statusCode).toBe(409)
    expect(again.json().error.code).toBe('CONFLICT')
    const racing = await Promise.all(
      [1, 2, 3].map(() =>
        hg.request('POST', '/v1/auth/signup', {
          body: { email: 'race@example.com', password: 'password one', name: 'R' },
        }),
      ),
    )
    expect(racing.map((r) => r.statusCode).sort()).toEqual([201, 409, 409])
  })

  it('names each wrong sign-up field', async () => {
    const response = await hg.request('POST', '/v1/auth/signup', {
      body: { email: 'not-an-email', password: 'short' },
    })
    expect(response.statusCode).toBe(400)
    const paths = response
      .json()
      .error.issues.map((i: { path: string }) => i.path)
      .sort()
    expect(paths).toEqual(['email', 'name', 'password'])
  })

  it('shows an API token once and keeps only its hash in the log', async () => {
    const { token } = await hg.signUp()
    const source = await hg.createSource(token, 'store')
    const listed = await hg.request('GET', '/v1/sources', { token })
    expect(listed.json().sources).toEqual([expect.objectContaining({ id: source.id, kind: 'store' })])
    expect(listed.body).not.toContain(source.apiToken)
    const control = await hg.runtime.control.readAll(0, 10_000)
    const serialized = JSON.stringify(control.map((r) => r.data))
    expect(serialized).not.toContain(parseApiToken(source.apiToken)!.secret)
  })
})

describe('tenant isolation', () => {
  it("answers 404 for another account's source, on every read, and counts nothing into it", async () => {
    const owner = await hg.signUp()
    const intruder = await hg.signUp()
    const source = await hg.createSource(owner.token)
    const posted = await hg.request('POST', '/v1/events', {
      token: source.apiToken,
      body: { events: [{ name: 'secret', timestamp: Date.now() - 1000, subject: 'u1' }] },
    })
    expect(posted.statusCode).toBe(200)
    await hg.settled()
    for (const path of [`/v1/sources/${source.id}/rollups/hourly`, `/v1/sources/${source.id}/events`]) {
      const theirs = await hg.request('GET', path, { token: intruder.token })
      expect(theirs.statusCode).toBe(404)
      expect(theirs.body).not.toContain('secret')
      const mine = await hg.request('GET', path, { token: owner.token })
      expect(mine.statusCode).toBe(200)
      expect(mine.body).toContain('secret')
    }
    expect((await hg.request('GET', '/v1/sources', { token: intruder.token })).json().sources).toEqual([])
  })

  it('needs a valid account token to read anything', async () => {
    const owner = await hg.signUp()
    const source = await hg.createSource(owner.token)
    for (const token of [undefined, 'nonsense', source.apiToken]) {
      const response = await hg.request(
        'GET',
        `/v1/sources/${source.id}/rollups/hourly`,
        token ? { token } : {},
      )
      expect(response.statusCode).toBe(401)
    }
  })
})
