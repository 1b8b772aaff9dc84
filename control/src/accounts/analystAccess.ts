import { errors } from '@hourglass/schemas'
import type { FastifyRequest } from 'fastify'
import { decodeJwt } from 'jose'
import { type Authentication, authenticateFirst } from '../authenticateFirst.ts'
import type { ControlPlane, Member } from '../controlPlane.ts'
import { credentialFrom } from './apiTokens.ts'
import { MEMBER_AUDIENCE_SUFFIX, type MemberTokens } from './memberTokens.ts'
import type { UserTokens } from './userTokens.ts'

export interface AnalystAccessDeps {
  readonly controlPlane: ControlPlane
  readonly userTokens: UserTokens
  readonly memberTokens: MemberTokens
}

/** Who reads receipt analytics: the account's admin, or a member with the analyst role in it. */
export interface ReceiptReader {
  readonly accountId: string
  readonly role: 'admin' | 'analyst'
}

export interface AnalystAccess {
  /**
   * The account whose receipt analytics this request may read. An account's own token is its
   * admin and reads it; a member's token reads the account that granted it the analyst role
   * (`account` picks one when several did). 401 without a valid token, 403 without the role.
   */
  authorize(request: FastifyRequest, account?: string): Promise<ReceiptReader>
  /**
   * Who the request's token speaks for, an account or a member, before any role is looked at
   * (401 otherwise); checked once per request, first (see authenticateFirst).
   */
  readonly authenticate: Authentication<ReceiptCaller>
}

/** The holder of a token that may read receipt analytics: an account, or a member. */
export type ReceiptCaller = { readonly accountId: string } | { readonly member: Member }

const HINT =
  'send the token from sign-in as "Authorization: Bearer <token>" (or "Authorization: Token <token>")'

/** The token of `Authorization: Bearer <token>` or, as Django REST framework sends it, `Token <token>`. */
export const bearerOrToken = (request: FastifyRequest): string | null =>
  credentialFrom(request.headers.authorization) ?? credentialFrom(request.headers.authorization, 'Token')

const isMemberToken = (token: string) => {
  try {
    const { aud } = decodeJwt(token)
    return (Array.isArray(aud) ? aud : [aud]).some((a) => a?.endsWith(MEMBER_AUDIENCE_SUFFIX))
  } catch {
    // Not a JWT at all: the account verifier below refuses it with a 401.
    return false
  }
}

export function createAnalystAccess({
  controlPlane,
  userTokens,
  memberTokens,
}: AnalystAccessDeps): AnalystAccess {
  const memberOf = async (token: string) => {
    const { userId } = await memberTokens.verify(token)
    const member = await controlPlane.findMember(userId)
    if (!member) throw errors.unauthenticated('the user does not exist')
    return member
  }

  const authenticate = authenticateFirst(async (request): Promise<ReceiptCaller> => {
    const token = bearerOrToken(request)
    if (!token) throw errors.unauthenticated(HINT)
    if (!isMemberToken(token)) return { accountId: (await userTokens.verify(token)).accountId }
    return { member: await memberOf(token) }
  })

  return {
    authenticate,
    async authorize(request, account) {
      const caller = await authenticate(request)
      if ('accountId' in caller) {
        const { accountId } = caller
        if (account !== undefined && account !== accountId)
          throw errors.forbidden('an account token reads only its own account')
        return { accountId, role: 'admin' }
      }
      const { member } = caller
      const accounts = await controlPlane.analystAccounts(member.userId)
      if (accounts.length === 0)
        throw errors.forbidden(
          'reading receipt analytics needs the analyst role; the account admin grants it with PUT /v1/account/analysts/<username>',
        )
      if (account !== undefined) {
        if (!accounts.includes(account)) throw errors.forbidden('you have no analyst role in this account')
        return { accountId: account, role: 'analyst' }
      }
      if (accounts.length > 1)
        throw errors.invalidRequest([
          {
            path: 'account',
            message: `you are an analyst of ${accounts.length} accounts: name one (${accounts.join(', ')})`,
          },
        ])
      return { accountId: accounts[0]!, role: 'analyst' }
    },
  }
}
