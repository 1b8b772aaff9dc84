import { createUserTokens, type UserTokenConfig } from './userTokens.ts'

export interface MemberPrincipal {
  readonly userId: string
}

export interface MemberTokens {
  issue(member: MemberPrincipal): Promise<string>
  /** The member a token speaks for; an expired, forged or malformed token is a 401. */
  verify(token: string): Promise<MemberPrincipal>
}

/** The audience of member tokens: the account's audience with this suffix. */
export const MEMBER_AUDIENCE_SUFFIX = '-member'

/**
 * Member session tokens: the same signed JWTs as account tokens, for another audience, so a
 * member's token is never taken for an account's (which could create sources) nor the reverse.
 */
export function createMemberTokens(config: UserTokenConfig): MemberTokens {
  const tokens = createUserTokens({ ...config, audience: `${config.audience}${MEMBER_AUDIENCE_SUFFIX}` })
  return {
    issue: ({ userId }) => tokens.issue({ accountId: userId }),
    verify: async (token) => ({ userId: (await tokens.verify(token)).accountId }),
  }
}
