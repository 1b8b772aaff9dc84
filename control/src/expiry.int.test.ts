import { HourglassError } from '@hourglass/schemas'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseApiToken } from './accounts/apiTokens.ts'
import type { ControlPlane } from './controlPlane.ts'
import { type EmbeddedControlPlanes, embeddedControlPlanes } from './testing/controlPlanes.ts'

/**
 * Sessions and issued tokens live for a configured time, by the control plane's clock (set by
 * the test): then they are refused and forgotten, by the process that made them and by one that
 * folds the log afresh.
 */

const MINUTE = 60_000
const quotas = { sessions: 2, tokens: 2, sessionLifetimeMs: 10 * MINUTE, tokenLifetimeMs: 60 * MINUTE }

let control: EmbeddedControlPlanes
let clock = Date.UTC(2026, 5, 1)
const now = () => clock
let plane: ControlPlane

const planeOverTheLog = () => control.plane({ quotas, now })

/** The error a promise is refused with (the test fails when it is not refused). */
const refusal = async (promise: Promise<unknown>) => {
  const outcome = await promise.then(
    () => null,
    (error: unknown) => error,
  )
  expect(outcome).toBeInstanceOf(HourglassError)
  return outcome as HourglassError
}

beforeAll(async () => {
  control = await embeddedControlPlanes({ count: 0 })
  plane = await planeOverTheLog()
})
afterAll(() => control.close())

describe('expiry of sessions and tokens', () => {
  it('a session is known until its lifetime ends, then refused, forgotten and no longer held against the quota', async () => {
    const { source } = await plane.createSource('account-1', { kind: 'app', name: 'sessions' })
    const first = await plane.apps.startSession(source, 'first')
    clock += 5 * MINUTE
    await plane.apps.startSession(source, 'second')
    // The quota counts live sessions: two are live.
    expect((await refusal(plane.apps.startSession(source, 'third'))).code).toBe('QUOTA_EXCEEDED')
    expect(await plane.apps.findSession(source.sourceId, 'first')).toEqual(first)

    clock += 5 * MINUTE
    expect(await plane.apps.findSession(source.sourceId, 'first')).toBeNull()
    expect((await plane.apps.listSessions(source.sourceId)).map((s) => s.sessionId)).toEqual(['second'])
    const rules = await plane.apps.ingestRules(source, [{ name: 'x', session: 'first' }])
    expect(rules.sessionKnown('first')).toBe(false)
    expect(rules.sessionKnown('second')).toBe(true)
    // One slot is free again; the expired id stays taken (its stream holds it).
    expect((await refusal(plane.apps.startSession(source, 'first'))).code).toBe('CONFLICT')
    await plane.apps.startSession(source, 'third')

    // A process that folds the log afresh holds only the live sessions.
    const fresh = await planeOverTheLog()
    expect((await fresh.apps.listSessions(source.sourceId)).map((s) => s.sessionId)).toEqual([
      'second',
      'third',
    ])
    clock += 10 * MINUTE
    expect(await fresh.apps.listSessions(source.sourceId)).toEqual([])
    expect(await plane.apps.listSessions(source.sourceId)).toEqual([])
  })

  it("an API token issued beyond the source's first expires with a 401 that says so; the first stays", async () => {
    const { source, apiToken } = await plane.createSource('account-1', { kind: 'app', name: 'tokens' })
    const { apiToken: issued } = await plane.apps.issueApiToken(source)
    expect(await plane.authenticateSource(issued)).toEqual(source)

    clock += 60 * MINUTE
    const expired = await refusal(plane.authenticateSource(issued))
    expect(expired.code).toBe('UNAUTHENTICATED')
    expect(expired.message).toContain('expired')
    // Another process, which never held the token, says the same.
    expect((await refusal((await planeOverTheLog()).authenticateSource(issued))).message).toContain('expired')
    // A wrong secret for the same source is unknown, not expired.
    const { sourceId } = parseApiToken(issued)!
    expect(await plane.authenticateSource(`hg_${sourceId}_${'A'.repeat(43)}`)).toBeNull()
    expect(await plane.authenticateSource(apiToken)).toEqual(source)
    // Expired tokens no longer count against the quota.
    await plane.apps.issueApiToken(source)
    await plane.apps.issueApiToken(source)
  })

  it('a The Eye token expires with a 401 that says so; a revoked one stays merely invalid', async () => {
    const kept = await plane.theEyeTokens.issue({ accountId: 'account-1', memberId: null })
    const revoked = await plane.theEyeTokens.issue({ accountId: 'account-1', memberId: null })
    expect(await plane.theEyeTokens.verify(kept)).toEqual({ accountId: 'account-1', memberId: null })
    expect(await plane.theEyeTokens.revoke(revoked)).toBe(true)

    clock += 60 * MINUTE
    const expired = await refusal(plane.theEyeTokens.verify(kept))
    expect(expired.code).toBe('UNAUTHENTICATED')
    expect(expired.message).toContain('expired')
    expect(await plane.theEyeTokens.verify(revoked)).toBeNull()
    expect(await plane.theEyeTokens.verify('0'.repeat(40))).toBeNull()
  })
})
