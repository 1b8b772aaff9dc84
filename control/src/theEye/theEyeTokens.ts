import { randomBytes } from 'node:crypto'
import type { ExpectedRevision } from '@hourglass/log'
import {
  type ControlEvent,
  controlStreams,
  type EyeTokenIssued,
  type EyeTokenRevoked,
  errors,
} from '@hourglass/schemas'
import { hashSecret, tokenExpired } from '../accounts/apiTokens.ts'
import { expiringEntries, type Lifetime } from '../expiringEntries.ts'

/** Whom a The Eye token speaks for: an account, through one of its members or not. */
export interface EyePrincipal {
  readonly accountId: string
  /** The member who signed in with their username; null for the account's own e-mail. */
  readonly memberId: string | null
}

/**
 * The Eye's tokens, as Django REST framework's `TokenAuthentication` has them: 40 hexadecimal
 * characters that stay valid until revoked, or until they expire (a lifetime the seed does not
 * have, so that memory stays bounded). Only their SHA-256 is kept, in the control plane.
 */
export interface TheEyeTokens {
  /** A new token, shown once; the principal's earlier tokens stay valid. */
  issue(principal: EyePrincipal): Promise<string>
  /** Whom a token speaks for as of the log's latest record; null when unknown or revoked, a 401 when expired. */
  verify(token: string): Promise<EyePrincipal | null>
  /** Revokes a token at once, everywhere; false when it was unknown or revoked already. */
  revoke(token: string): Promise<boolean>
}

/** What the tokens need of the control plane that folds them. */
export interface TheEyeTokenControl {
  refresh(): Promise<void>
  append(stream: string, event: ControlEvent, expected?: ExpectedRevision): Promise<'appended' | 'conflict'>
  /** The records of a token's stream: an expired token is forgotten here but still told from a wrong one there. */
  readStream(stream: string): Promise<readonly { readonly type: string }[]>
}

const TOKEN = /^[0-9a-f]{40}$/

/** Whether a credential has the shape of a The Eye token (and not of a signed account token). */
export const isEyeToken = (credential: string) => TOKEN.test(credential)

interface KnownToken extends EyePrincipal {
  readonly issuedAt: number
  revoked: boolean
}

/** The Eye's tokens, folded from control records by the control plane (`apply`). */
export function createTheEyeTokens(
  control: TheEyeTokenControl,
  lifetime: Lifetime,
): TheEyeTokens & {
  apply(event: EyeTokenIssued | EyeTokenRevoked): void
} {
  /** Live tokens by hash, in the order they were issued. */
  const tokens = expiringEntries<string, KnownToken>(lifetime, (token) => token.issuedAt)

  return {
    apply(event) {
      if (event.type === 'eye-token.issued') {
        tokens.add(event.tokenHash, {
          accountId: event.accountId,
          memberId: event.memberId,
          issuedAt: event.at,
          revoked: false,
        })
        return
      }
      const token = tokens.get(event.tokenHash)
      if (token) token.revoked = true
    },

    async issue({ accountId, memberId }) {
      const token = randomBytes(20).toString('hex')
      const tokenHash = hashSecret(token)
      const event: EyeTokenIssued = {
        type: 'eye-token.issued',
        tokenHash,
        accountId,
        memberId,
        at: lifetime.now(),
      }
      // 160 random bits cannot collide in practice; if they did, the token would be refused, not shared.
      const status = await control.append(controlStreams.eyeToken(tokenHash), event, 'no-stream')
      if (status === 'conflict') throw errors.unavailable('the new token could not be recorded; retry')
      return token
    },

    async verify(token) {
      if (!isEyeToken(token)) return null
      // A revocation written by another process counts at once.
      await control.refresh()
      const tokenHash = hashSecret(token)
      const known = tokens.get(tokenHash)
      if (known) return known.revoked ? null : { accountId: known.accountId, memberId: known.memberId }
      const records = await control.readStream(controlStreams.eyeToken(tokenHash))
      if (records.length > 0 && !records.some((record) => record.type === 'eye-token.revoked'))
        throw tokenExpired()
      return null
    },

    async revoke(token) {
      if (!isEyeToken(token)) return false
      await control.refresh()
      const tokenHash = hashSecret(token)
      const known = tokens.get(tokenHash)
      if (!known || known.revoked) return false
      const event: EyeTokenRevoked = { type: 'eye-token.revoked', tokenHash, at: Date.now() }
      // The stream holds the issue (revision 0): of two concurrent revocations, one is recorded.
      return (await control.append(controlStreams.eyeToken(tokenHash), event, 0)) === 'appended'
    },
  }
}
