import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { errors } from '@hourglass/schemas'

/**
 * Source API tokens: `hg_<sourceId>_<secret>`. The id finds the source; only a SHA-256 of
 * the 256-bit random secret is stored (a fast hash is enough for a secret that cannot be guessed).
 */
const PATTERN = /^hg_([0-9a-f-]{36})_([A-Za-z0-9_-]{43})$/

export const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('hex')

/**
 * How a token is named once made: the start of its stored hash, which says nothing of the secret
 * (64 bits, so two tokens of one source cannot share it in practice).
 */
export const tokenIdOf = (tokenHash: string) => tokenHash.slice(0, 16)

export function mintApiToken(sourceId: string): { token: string; tokenHash: string } {
  const secret = randomBytes(32).toString('base64url')
  return { token: `hg_${sourceId}_${secret}`, tokenHash: hashSecret(secret) }
}

export function parseApiToken(token: string): { sourceId: string; secret: string } | null {
  const match = PATTERN.exec(token)
  return match ? { sourceId: match[1]!, secret: match[2]! } : null
}

export function secretMatches(secret: string, tokenHash: string): boolean {
  const actual = Buffer.from(hashSecret(secret), 'hex')
  const expected = Buffer.from(tokenHash, 'hex')
  return actual.length === expected.length && timingSafeEqual(actual, expected)
}

/** The credential after `Bearer ` (or another scheme) in an Authorization header. */
export function credentialFrom(header: string | undefined, scheme = 'Bearer'): string | null {
  if (!header) return null
  const [given, value, ...rest] = header.trim().split(/\s+/)
  if (rest.length > 0 || !value || given?.toLowerCase() !== scheme.toLowerCase()) return null
  return value
}

/** A token that was issued and has outlived its lifetime: told apart from a wrong one, so its holder knows to ask again. */
export const tokenExpired = () => errors.unauthenticated('the token has expired; ask for a new one')
