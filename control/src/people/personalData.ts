import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import {
  CatalogedError,
  type PersonalFields,
  PersonalFields as PersonalFieldsSchema,
} from '@hourglass/schemas'
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
 * The keys of personal data: a key per person, and the key of the e-mail index. Unlike the
 * log, this store is mutable: destroying a person's key is what makes their sealed fields
 * unreadable everywhere the log has been copied to. Embedded mode keeps it in the process
 * (`createPersonKeyStore`); distributed mode keeps it in PostgreSQL, which every process
 * reaches (`createPostgresPersonKeyStore`), so every process sees one set of keys and an
 * erasure destroys the only copy.
 */
export interface PersonKeyStore {
  /** A new random key for a person who has none. */
  create(personId: string): Promise<Buffer>
  /** The person's key; null once destroyed (or never made). */
  get(personId: string): Promise<Buffer | null>
  /** Destroys the person's key, if it exists. */
  destroy(personId: string): Promise<void>
  /** The keyed hash of a store's e-mail address: equal for equal addresses, useless without the key. */
  emailIndex(storeId: string, email: string): Promise<string>
  close(): Promise<void>
}

/** The person already has a key: a key is never replaced, which would lose what is sealed under it. */
export class PersonKeyExistsError extends CatalogedError {
  constructor() {
    super('PERSON_KEY_EXISTS', 'this person already has a key')
  }
}

/** A person's key as the key stores keep it: sealed under the master key, bound to the person. */
export const wrapPersonKey = (masterKey: Buffer, personId: string, key: Buffer) =>
  sealBytes(masterKey, `key:${personId}`, key)

export const unwrapPersonKey = (masterKey: Buffer, personId: string, wrapped: string) =>
  openBytes(masterKey, `key:${personId}`, wrapped)

export function checkMasterKey(masterKey: Buffer) {
  if (masterKey.length !== 32) throw new Error('the master key must be 32 bytes')
}

/** Per-person keys in LMDB, each wrapped (AES-256-GCM) under the master key. */
export function createPersonKeyStore(options: {
  path: string
  masterKey: Buffer
  indexKey: Buffer
}): PersonKeyStore {
  checkMasterKey(options.masterKey)
  mkdirSync(options.path, { recursive: true })
  const env: RootDatabase = open({ path: options.path, noSync: false, overlappingSync: false, maxDbs: 2 })
  const keys: Database<string, string> = env.openDB({ name: 'person-keys', encoding: 'string' })
  return {
    async create(personId) {
      const key = randomBytes(32)
      const wrapped = wrapPersonKey(options.masterKey, personId, key)
      const created = env.transactionSync(() => {
        if (keys.doesExist(personId)) return false
        keys.putSync(personId, wrapped)
        return true
      })
      if (!created) throw new PersonKeyExistsError()
      return key
    },
    async get(personId) {
      const wrapped = keys.get(personId)
      return wrapped === undefined ? null : unwrapPersonKey(options.masterKey, personId, wrapped)
    },
    // LMDB may keep the freed page's bytes until it reuses the page; they are the key wrapped
    // under the master key, which is why the docs say to rotate the master key after erasures
    // when disks may be imaged.
    async destroy(personId) {
      keys.removeSync(personId)
    },
    emailIndex: async (storeId, email) => emailIndexOf(options.indexKey, storeId, email),
    close: () => env.close(),
  }
}
