import { SignJWT, UnsecuredJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { createUserTokens } from './userTokens.ts'

const config = {
  secret: new TextEncoder().encode('k'.repeat(32)),
  issuer: 'hourglass',
  audience: 'hourglass',
  ttlSeconds: 60,
}
const tokens = createUserTokens(config)

describe('user tokens', () => {
  it('verifies a token it issued and names its account', async () => {
    const token = await tokens.issue({ accountId: 'acc-1' })
    expect(await tokens.verify(token)).toEqual({ accountId: 'acc-1' })
  })

  it.each([
    [
      'another key',
      async () =>
        createUserTokens({ ...config, secret: new TextEncoder().encode('x'.repeat(32)) }).issue({
          accountId: 'a',
        }),
    ],
    [
      'another issuer',
      async () => createUserTokens({ ...config, issuer: 'elsewhere' }).issue({ accountId: 'a' }),
    ],
    [
      'another audience',
      async () => createUserTokens({ ...config, audience: 'elsewhere' }).issue({ accountId: 'a' }),
    ],
    [
      'alg "none"',
      async () =>
        new UnsecuredJWT({ sub: 'a' })
          .setIssuer('hourglass')
          .setAudience('hourglass')
          .setExpirationTime('1h')
          .encode(),
    ],
    [
      'no expiry',
      async () =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('a')
          .setIssuer('hourglass')
          .setAudience('hourglass')
          .sign(config.secret),
    ],
    [
      'HS512 instead of the pinned HS256',
      async () =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'HS512' })
          .setSubject('a')
          .setIssuer('hourglass')
          .setAudience('hourglass')
          .setExpirationTime('1h')
          .sign(new TextEncoder().encode('k'.repeat(64))),
    ],
    ['garbage', async () => 'not.a.jwt'],
  ])('refuses a token with %s as a 401', async (_, make) => {
    await expect(tokens.verify(await make())).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
      statusCode: 401,
    })
  })

  it('refuses an expired token and says it expired', async () => {
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('a')
      .setIssuer('hourglass')
      .setAudience('hourglass')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 120)
      .sign(config.secret)
    await expect(tokens.verify(expired)).rejects.toMatchObject({
      statusCode: 401,
      message: expect.stringMatching(/expired/),
    })
  })
})
