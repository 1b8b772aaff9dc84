import { randomUUID } from 'node:crypto'
import { errors } from '@hourglass/schemas'
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose'
import { verifiedTokens } from './verifiedTokens.ts'

export interface UserTokenConfig {
  /** HMAC key, at least 32 bytes. */
  readonly secret: Uint8Array
  readonly issuer: string
  readonly audience: string
  readonly ttlSeconds: number
}

export interface UserPrincipal {
  readonly accountId: string
}

export interface UserTokens {
  issue(principal: UserPrincipal): Promise<string>
  /** The account a token speaks for; an expired, forged or malformed token is a 401. */
  verify(token: string): Promise<UserPrincipal>
}

const ALGORITHM = 'HS256'
const EXPIRED = 'the token has expired; sign in again'

/** Account session tokens: JWTs signed with HS256 only, with `exp`, `iss` and `aud` required. */
export function createUserTokens(config: UserTokenConfig): UserTokens {
  const verified = verifiedTokens<UserPrincipal>()
  return {
    issue: ({ accountId }) =>
      new SignJWT({})
        .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
        .setSubject(accountId)
        .setJti(randomUUID())
        .setIssuer(config.issuer)
        .setAudience(config.audience)
        .setIssuedAt()
        .setExpirationTime(`${config.ttlSeconds}s`)
        .sign(config.secret),
    async verify(token) {
      const known = verified.get(token)
      if (known === 'expired') throw errors.unauthenticated(EXPIRED)
      if (known) return known
      try {
        const { payload } = await jwtVerify(token, config.secret, {
          algorithms: [ALGORITHM],
          issuer: config.issuer,
          audience: config.audience,
          requiredClaims: ['exp', 'iss', 'aud', 'sub'],
        })
        const principal = { accountId: payload.sub! }
        verified.set(token, principal, payload.exp!)
        return principal
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired) throw errors.unauthenticated(EXPIRED)
        if (error instanceof joseErrors.JOSEError) throw errors.unauthenticated('the token is not valid')
        throw error
      }
    },
  }
}

/**
 * Tokens whose subject must still exist: a well-signed token of an account that does not exist
 * (never did, or was deleted) is a 401 like a forged one.
 */
export function requireKnownSubject(
  tokens: UserTokens,
  exists: (accountId: string) => Promise<boolean>,
): UserTokens {
  return {
    issue: tokens.issue,
    async verify(token) {
      const principal = await tokens.verify(token)
      if (!(await exists(principal.accountId)))
        throw errors.unauthenticated('the account of this token does not exist')
      return principal
    },
  }
}
