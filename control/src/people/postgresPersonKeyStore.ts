import { randomBytes } from 'node:crypto'
import { type Migration, type PostgresOptions, type PostgresPool, preparePool } from '@hourglass/log/postgres'
import { CatalogedError } from '@hourglass/schemas'
import {
  checkMasterKey,
  emailIndexOf,
  openBytes,
  PersonKeyExistsError,
  type PersonKeyStore,
  sealBytes,
  unwrapPersonKey,
  wrapPersonKey,
} from './personalData.ts'

/**
 * Person keys in PostgreSQL, for every process of a distributed deployment. Each key is wrapped
 * under the master key as the embedded store wraps it, so the database alone opens nothing; a
 * destroyed key's row is deleted, and nothing else holds the key. (Like LMDB's freed pages,
 * PostgreSQL's dead rows and WAL keep the wrapped bytes until vacuum and checkpoints reuse them:
 * rotate the master key after erasures where disks or backups may be copied.)
 *
 * The key of the e-mail index lives here too, wrapped the same way: the first process to start
 * makes it (or keeps the one it is given, an existing deployment's), and every process then
 * computes the same index without being given it.
 */

export const PERSON_KEY_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'person keys and the key of the e-mail index',
    statements: [
      'CREATE TABLE person_keys (person_id text PRIMARY KEY, wrapped text NOT NULL)',
      `CREATE TABLE email_index_key (
        single boolean PRIMARY KEY DEFAULT true CHECK (single),
        wrapped text NOT NULL
      )`,
    ],
  },
]

const INDEX_KEY_ASSOCIATED = 'email-index-key'

/** The keys a process was given do not fit the ones the database holds: it must not start. */
export class PersonKeyMismatchError extends CatalogedError {
  constructor(message: string) {
    super('PERSON_KEY_MISMATCH', message)
  }
}

/** The e-mail index key the database holds, made (or given) by the first process to start. */
async function indexKeyOf(pool: PostgresPool, masterKey: Buffer, given: Buffer | undefined): Promise<Buffer> {
  await pool.query('INSERT INTO email_index_key (wrapped) VALUES ($1) ON CONFLICT (single) DO NOTHING', [
    sealBytes(masterKey, INDEX_KEY_ASSOCIATED, given ?? randomBytes(32)),
  ])
  const [row] = await pool.query<{ wrapped: string }>('SELECT wrapped FROM email_index_key')
  let held: Buffer
  try {
    held = openBytes(masterKey, INDEX_KEY_ASSOCIATED, row!.wrapped)
  } catch {
    throw new PersonKeyMismatchError(
      'the master key does not open the keys this database holds: every process needs the same HOURGLASS_MASTER_KEY',
    )
  }
  if (given && !held.equals(given)) {
    throw new PersonKeyMismatchError(
      'the database already holds another e-mail index key than the one given (HOURGLASS_EMAIL_INDEX_KEY)',
    )
  }
  return held
}

/**
 * A person-key store over PostgreSQL: give it a pool to share (it stays open when the store
 * closes) or the options of one of its own. Brings its tables up to date before it answers.
 */
export async function createPostgresPersonKeyStore(options: {
  postgres: PostgresPool | PostgresOptions
  masterKey: Buffer
  /** An index key to keep if the database has none yet; the database's own is used otherwise. */
  indexKey?: Buffer
}): Promise<PersonKeyStore> {
  const { masterKey } = options
  checkMasterKey(masterKey)
  const { pool, close } = await preparePool(options.postgres, 'person-keys', PERSON_KEY_MIGRATIONS)
  let indexKey: Buffer
  try {
    indexKey = await indexKeyOf(pool, masterKey, options.indexKey)
  } catch (error) {
    await close()
    throw error
  }

  return {
    async create(personId) {
      const key = randomBytes(32)
      const created = await pool.query(
        'INSERT INTO person_keys (person_id, wrapped) VALUES ($1, $2) ON CONFLICT (person_id) DO NOTHING RETURNING person_id',
        [personId, wrapPersonKey(masterKey, personId, key)],
      )
      if (created.length === 0) throw new PersonKeyExistsError()
      return key
    },
    async get(personId) {
      const [row] = await pool.query<{ wrapped: string }>(
        'SELECT wrapped FROM person_keys WHERE person_id = $1',
        [personId],
      )
      return row ? unwrapPersonKey(masterKey, personId, row.wrapped) : null
    },
    async destroy(personId) {
      await pool.query('DELETE FROM person_keys WHERE person_id = $1', [personId])
    },
    emailIndex: async (storeId, email) => emailIndexOf(indexKey, storeId, email),
    close,
  }
}
