import { afterEach, describe, expect, it, vi } from 'vitest'
import { createUserTokens } from './userTokens.ts'
import { verifiedTokens } from './verifiedTokens.ts'

afterEach(() => {
  vi.useRealTimers()
})

describe('verified tokens', () => {
  it('keeps what a token verified to until the second its exp names, then answers expired once and forgets it', () => {
    vi.useFakeTimers({ now: 1_000_000 })
    const known = verifiedTokens<{ id: string }>()
    known.set('t', { id: 'a' }, 1_010)
    vi.setSystemTime(1_009_999)
    expect(known.get('t')).toEqual({ id: 'a' })
    vi.setSystemTime(1_010_000)
    expect(known.get('t')).toBe('expired')
    expect(known.get('t')).toBeUndefined()
  })

  it('forgets the oldest token past its capacity', () => {
    const known = verifiedTokens<number>(2)
    const later = Math.floor(Date.now() / 1000) + 60
    known.set('one', 1, later)
    known.set('two', 2, later)
    known.set('three', 3, later)
    expect([known.get('one'), known.get('two'), known.get('three')]).toEqual([undefined, 2, 3])
  })

  it('given an account token verified once, when its lifetime has passed, then it is refused as expired', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1) })
    const tokens = createUserTokens({
      secret: new TextEncoder().encode('k'.repeat(32)),
      issuer: 'hourglass',
      audience: 'hourglass',
      ttlSeconds: 60,
    })
    const token = await tokens.issue({ accountId: 'acc-1' })
    expect(await tokens.verify(token)).toEqual({ accountId: 'acc-1' })
    vi.setSystemTime(Date.UTC(2026, 0, 1) + 59_000)
    expect(await tokens.verify(token)).toEqual({ accountId: 'acc-1' })
    vi.setSystemTime(Date.UTC(2026, 0, 1) + 60_000)
    await expect(tokens.verify(token)).rejects.toMatchObject({
      statusCode: 401,
      message: expect.stringContaining('expired'),
    })
  })
})
