import { randomBytes, randomUUID } from 'node:crypto'
import { openPostgresPool, type PostgresOptions } from '@hourglass/log/postgres'
import { scratchSchemas } from '@hourglass/log/postgres/testing'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import type { PersonKeyStore } from './personalData.ts'
import { describePersonKeyStoreContract } from './personKeyStoreContract.ts'
import { createPostgresPersonKeyStore, PersonKeyMismatchError } from './postgresPersonKeyStore.ts'

const schemas = scratchSchemas('person_keys')
afterAll(() => schemas.dropAll())

/** Each store's schema and master key, for a second handle on the same keys. */
const given = new WeakMap<PersonKeyStore, { postgres: PostgresOptions; masterKey: Buffer }>()
const open = async (options: { postgres: PostgresOptions; masterKey: Buffer; indexKey?: Buffer }) => {
  const store = await createPostgresPersonKeyStore(options)
  given.set(store, options)
  return store
}

describePersonKeyStoreContract('PostgreSQL', {
  create: () => open({ postgres: schemas.options(), masterKey: randomBytes(32) }),
  another: (store) => open(given.get(store)!),
})

describe('PostgreSQL person-key store', () => {
  const opened: PersonKeyStore[] = []
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close()
  })
  const openKept = async (options: Parameters<typeof open>[0]) => {
    const store = await open(options)
    opened.push(store)
    return store
  }

  it('given keys made and destroyed, then the database holds only the living ones, and only wrapped', async () => {
    const postgres = schemas.options()
    const keys = await openKept({ postgres, masterKey: randomBytes(32) })
    const [kept, destroyed] = [randomUUID(), randomUUID()]
    const key = await keys.create(kept)
    await keys.create(destroyed)

    await keys.destroy(destroyed)

    const pool = openPostgresPool(postgres)
    try {
      const rows = await pool.query<{ person_id: string; wrapped: string }>(
        'SELECT person_id, wrapped FROM person_keys',
      )
      expect(rows.map((row) => row.person_id)).toEqual([kept])
      const stored = Buffer.from(rows[0]!.wrapped, 'base64url')
      expect(stored.includes(key)).toBe(false)
    } finally {
      await pool.close()
    }
  })

  it('given a database, when another process starts with another master key, then it is refused, naming the setting', async () => {
    const postgres = schemas.options()
    await openKept({ postgres, masterKey: randomBytes(32) })

    const refused = open({ postgres, masterKey: randomBytes(32) })

    await expect(refused).rejects.toBeInstanceOf(PersonKeyMismatchError)
    await expect(refused).rejects.toThrow(/HOURGLASS_MASTER_KEY/)
  })

  it('given an e-mail index key to keep, then the first process keeps it, and one given another is refused', async () => {
    const postgres = schemas.options()
    const masterKey = randomBytes(32)
    const indexKey = randomBytes(32)
    const first = await openKept({ postgres, masterKey, indexKey })
    const second = await openKept({ postgres, masterKey })
    const other = await openKept({ postgres: schemas.options(), masterKey, indexKey: randomBytes(32) })

    const index = await first.emailIndex('store-1', 'ana.lima@example.org')

    expect(await second.emailIndex('store-1', 'ana.lima@example.org')).toBe(index)
    expect(await other.emailIndex('store-1', 'ana.lima@example.org')).not.toBe(index)
    await expect(open({ postgres, masterKey, indexKey: randomBytes(32) })).rejects.toThrow(
      /HOURGLASS_EMAIL_INDEX_KEY/,
    )
  })
})
