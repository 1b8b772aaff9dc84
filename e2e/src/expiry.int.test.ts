import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

/**
 * Sessions and issued tokens over HTTP with lifetimes of one second: once a lifetime has passed,
 * an event of the session is refused naming the field, the session is no longer listed, and the
 * tokens are answered 401 saying they expired. The source's own API token does not expire.
 */

const LIFETIME_MS = 1000

let hg: TestHourglass
beforeAll(async () => {
  hg = await startTestHourglass({
    HOURGLASS_SESSION_LIFETIME_SECONDS: String(LIFETIME_MS / 1000),
    HOURGLASS_ISSUED_TOKEN_LIFETIME_SECONDS: String(LIFETIME_MS / 1000),
  })
})
afterAll(() => hg?.close())

/** Waits until everything made before `madeBy` has outlived its lifetime (by the system clock). */
const outlived = (madeBy: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, madeBy + LIFETIME_MS + 50 - Date.now())))

describe('once their lifetime has passed', () => {
  it('a session is refused and forgotten, and issued tokens are answered 401 as expired', async () => {
    const { token, email, password } = await hg.signUp()
    const source = await hg.createSource(token, 'app')
    const settings = await hg.request('PUT', `/v1/sources/${source.id}/settings`, {
      token,
      body: { unknownSessions: 'reject' },
    })
    expect(settings.statusCode, settings.body).toBe(200)
    const session = await hg.request('POST', '/v1/sessions', { token: source.apiToken, body: {} })
    expect(session.statusCode, session.body).toBe(201)
    const issued = await hg.request('POST', `/v1/sources/${source.id}/tokens`, { token })
    expect(issued.statusCode, issued.body).toBe(201)
    const eye = await hg.request('POST', '/compat/the-eye/api-token-auth/', {
      body: { username: email, password },
    })
    expect(eye.statusCode, eye.body).toBe(200)
    await outlived(Date.now())

    const event = { name: 'after-expiry', timestamp: new Date().toISOString(), session: session.json().id }
    const refused = await hg.request('POST', '/v1/events', {
      token: source.apiToken,
      body: { events: [event] },
    })
    expect(refused.statusCode, refused.body).toBe(400)
    expect(refused.json().error.issues[0]).toMatchObject({ path: 'events[0].session' })
    const listed = await hg.request('GET', `/v1/sources/${source.id}/sessions`, { token })
    expect(listed.json().sessions).toEqual([])

    const answers = [
      await hg.request('POST', '/v1/events', { token: issued.json().apiToken, body: { events: [] } }),
      await hg.request('GET', '/compat/the-eye/sessions/', {
        headers: { authorization: `Token ${eye.json().token}` },
      }),
    ]
    for (const answer of answers) {
      expect(answer.statusCode, answer.body).toBe(401)
      expect(answer.json().error.code).toBe('UNAUTHENTICATED')
      expect(answer.json().error.message).toContain('expired')
    }
    const first = await hg.request('POST', '/v1/events', {
      token: source.apiToken,
      body: { events: [{ name: 'first-token', timestamp: new Date().toISOString() }] },
    })
    expect(first.statusCode, first.body).toBe(200)
  })
})
