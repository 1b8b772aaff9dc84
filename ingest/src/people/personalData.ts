import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { type PersonalFields, PersonalFields as PersonalFieldsSchema } from '@hourglass/schemas'
import { type Database, open, type RootDatabase } from 'lmdb'

const ALGORITHM = 'aes-256-gcm'
const IV_BYTES = 12
const TAG_BYTES = 16

/** AES-256-GCM, `iv | tag | ciphertext` in base64url; the associated data binds it to its owner. */
export function sealBytes(key: Buffer, associated: string, plain: Buffer): string {
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv(ALGORITHM, key, iv)
  cipher.setAAD(Buffer.from(associated))
  const body = Buffer.concat([cipher.update(plain), cipher.final()])
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')
}

export function openBytes(key: Buffer, associated: string, sealed: string): Buffer {
  const raw = Buffer.from(sealed, 'base64url')
  const decipher = createDecipheriv(ALGORITHM, key, raw.subarray(0, IV_BYTES))
  decipher.setAAD(Buffer.from(associated))
  decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES))
  return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()])
}

export const sealPersonalFields = (key: Buffer, personId: string, fields: PersonalFields) =>
  sealBytes(key, `person:${personId}`, Buffer.from(JSON.stringify(fields)))

export const openPersonalFields = (key: Buffer, personId: string, sealed: string): PersonalFields =>
  PersonalFieldsSchema.parse(JSON.parse(openBytes(key, `person:${personId}`, sealed).toString('utf8')))

/** A keyed hash of a store's e-mail address: equal for equal addresses, useless without the key. */
export const emailIndexOf = (indexKey: Buffer, storeId: string, email: string) =>
  createHmac('sha256', indexKey).update(`${storeId}\n${email.trim().toLowerCase()}`).digest('hex')

/**
 * The per-person keys. Unlike the log, this store is mutable: destroying a key is what
 * makes a person's sealed fields unreadable everywhere the log has been copied to.
 * Keys are kept wrapped (AES-256-GCM) under a master key.
 */
export interface PersonKeyStore {
  create(personId: string): Buffer
  get(personId: string): Buffer | null
  destroy(personId: string): void
  has(personId: string): boolean
  close(): Promise<void>
}

export function createPersonKeyStore(options: { path: string; masterKey: Buffer }): PersonKeyStore {
  if (options.masterKey.length !== 32) throw new Error('the master key must be 32 bytes')
  mkdirSync(options.path, { recursive: true })
  const env: RootDatabase = open({ path: options.path, noSync: false, overlappingSync: false, maxDbs: 2 })
  const keys: Database<string, string> = env.openDB({ name: 'person-keys', encoding: 'string' })
  return {
    create(personId) {
      const key = randomBytes(32)
      keys.putSync(personId, sealBytes(options.masterKey, `key:${personId}`, key))
      return key
    },
    get(personId) {
      const wrapped = keys.get(personId)
      return wrapped === undefined ? null : openBytes(options.masterKey, `key:${personId}`, wrapped)
    },
    has: (personId) => keys.get(personId) !== undefined,
    // LMDB may keep the freed page's bytes until it reuses the page; they are the key wrapped
    // under the master key, which is why the docs say to rotate the master key after erasures
    // when disks may be imaged.
    destroy(personId) {
      keys.removeSync(personId)
    },
    close: () => env.close(),
  }
}
