import { describe, expect, it } from 'vitest'
import { credentialFrom, mintApiToken, parseApiToken, secretMatches } from './apiTokens.ts'

describe('source API tokens', () => {
  it('are random, name their source, and match only their own hash', () => {
    const sourceId = '0f9f856c-e28b-44ca-b029-2bf96e74b6ef'
    const one = mintApiToken(sourceId)
    const two = mintApiToken(sourceId)
    expect(one.token).not.toBe(two.token)
    expect(one.token).not.toContain(one.tokenHash)
    const parsed = parseApiToken(one.token)!
    expect(parsed.sourceId).toBe(sourceId)
    expect(secretMatches(parsed.secret, one.tokenHash)).toBe(true)
    expect(secretMatches(parsed.secret, two.tokenHash)).toBe(false)
    expect(parseApiToken(`${one.token}x`)).toBeNull()
    expect(parseApiToken('hg_nope')).toBeNull()
  })

  it('are read from the Authorization header for the expected scheme only', () => {
    expect(credentialFrom('Bearer abc')).toBe('abc')
    expect(credentialFrom('bearer  abc ')).toBe('abc')
    expect(credentialFrom('Token abc')).toBeNull()
    expect(credentialFrom('Token abc', 'Token')).toBe('abc')
    expect(credentialFrom('Bearer a b')).toBeNull()
    expect(credentialFrom(undefined)).toBeNull()
  })
})
