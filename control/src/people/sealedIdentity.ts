import { createHash } from 'node:crypto'
import { z } from 'zod'
import { openBytes, type PersonKeyStore, sealBytes } from './personalData.ts'

/**
 * The personal fields of those who sign in (account holders, members, device users), sealed
 * like store people's: under a key of their own that erasing them destroys, so the control
 * log and its copies keep nothing readable of them. They are found by keyed hash. Their keys
 * are kept by their ids (random UUIDs, like store people's).
 */
export type IdentityKind = 'account' | 'member' | 'device-user'

const IdentityFields = z.record(z.string(), z.string())
export type IdentityFields = z.infer<typeof IdentityFields>

/** Binds a sealed value to its owner: it cannot be moved to another person or kind. */
const associated = (kind: IdentityKind, id: string) => `identity:${kind}:${id}`

/** Makes the person's key and seals their fields under it. */
export async function sealIdentity(
  keys: PersonKeyStore,
  kind: IdentityKind,
  id: string,
  fields: IdentityFields,
): Promise<string> {
  const key = await keys.create(id)
  return sealBytes(key, associated(kind, id), Buffer.from(JSON.stringify(fields)))
}

/** The person's fields; null once their key is destroyed (erased). */
export async function openIdentity(
  keys: PersonKeyStore,
  kind: IdentityKind,
  id: string,
  sealed: string,
): Promise<IdentityFields | null> {
  const key = await keys.get(id)
  if (!key) return null
  return IdentityFields.parse(JSON.parse(openBytes(key, associated(kind, id), sealed).toString('utf8')))
}

/**
 * The keyed hash that finds a person by a name they sign in with, within a scope (all accounts,
 * all members, one device fleet). E-mail addresses fold case as the key store's index does;
 * names keep it, so the index is taken of their SHA-256 in hex, which has no case or spaces to
 * fold (and is short whatever the name's length).
 */
export const emailLookup = (keys: PersonKeyStore, scope: string, email: string) =>
  keys.emailIndex(`${scope}:email`, email)

export const nameLookup = (keys: PersonKeyStore, scope: string, name: string) =>
  keys.emailIndex(`${scope}:name`, createHash('sha256').update(name).digest('hex'))
