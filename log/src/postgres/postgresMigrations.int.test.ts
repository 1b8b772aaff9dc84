import { afterAll, describe, expect, it } from 'vitest'
import { createPostgresControlStore } from './postgresControlStore.ts'
import { type Migration, migrate } from './postgresMigrations.ts'
import { openPostgresPool, type PostgresOptions, PostgresRefusedError } from './postgresPool.ts'
import { scratchSchemas } from './testing/scratchSchemas.ts'

const schemas = scratchSchemas('migrations')
afterAll(() => schemas.dropAll())

/** Runs `work` with pools of its own on one schema, as that many processes would. */
const withPools = async <T>(
  options: PostgresOptions,
  count: number,
  work: (pools: ReturnType<typeof openPostgresPool>[]) => Promise<T>,
) => {
  const pools = Array.from({ length: count }, () => openPostgresPool(options))
  try {
    return await work(pools)
  } finally {
    await Promise.all(pools.map((pool) => pool.close()))
  }
}

const recorded = (options: PostgresOptions, component: string) =>
  withPools(options, 1, ([pool]) =>
    pool!.query<{ version: number; name: string }>(
      'SELECT version, name FROM schema_migrations WHERE component = $1 ORDER BY version',
      [component],
    ),
  )

const created: Migration = {
  version: 1,
  name: 'steps',
  statements: ['CREATE TABLE steps (n integer NOT NULL)'],
}
// Not idempotent: applied twice, it would leave two rows.
const filled: Migration = { version: 2, name: 'a step', statements: ['INSERT INTO steps (n) VALUES (2)'] }

describe('PostgreSQL migrations', () => {
  it('given a fresh schema, when several processes open the control store at once, then its tables are made once and all of them work on them', async () => {
    const options = schemas.options()

    const stores = await Promise.all(Array.from({ length: 4 }, () => createPostgresControlStore(options)))

    try {
      expect(await recorded(options, 'control-store')).toEqual([
        { version: 1, name: 'control streams, records and their global order' },
      ])
      const outcome = await stores[0]!.appendToStream(
        'account-1',
        [{ type: 'opened', data: {} }],
        'no-stream',
      )
      expect(outcome).toMatchObject({ status: 'appended', revision: 0 })
      expect((await stores[3]!.readStream('account-1')).map((record) => record.type)).toEqual(['opened'])
    } finally {
      for (const store of stores) await store.close()
    }
  })

  it('given a component migrated before, when a new step ships and several processes start at once, then the step is applied exactly once', async () => {
    const options = schemas.options()
    await withPools(options, 1, ([pool]) => migrate(pool!, 'steps', [created]))

    await withPools(options, 4, (pools) =>
      Promise.all(pools.map((pool) => migrate(pool, 'steps', [created, filled]))),
    )
    await withPools(options, 1, ([pool]) => migrate(pool!, 'steps', [created, filled]))

    expect((await recorded(options, 'steps')).map((row) => row.version)).toEqual([1, 2])
    const rows = await withPools(options, 1, ([pool]) => pool!.query('SELECT n FROM steps'))
    expect(rows).toEqual([{ n: 2 }])
  })

  it('given a step the server refuses, then nothing of it stays, and the next start applies the step once fixed', async () => {
    const options = schemas.options()
    const broken: Migration = {
      version: 2,
      name: 'a step',
      statements: ['INSERT INTO steps (n) VALUES (2)', 'INSERT INTO missing VALUES (1)'],
    }

    const failed = withPools(options, 1, ([pool]) => migrate(pool!, 'steps', [created, broken]))

    await expect(failed).rejects.toBeInstanceOf(PostgresRefusedError)
    expect((await recorded(options, 'steps')).map((row) => row.version)).toEqual([1])
    await withPools(options, 1, ([pool]) => migrate(pool!, 'steps', [created, filled]))
    expect(await withPools(options, 1, ([pool]) => pool!.query('SELECT n FROM steps'))).toEqual([{ n: 2 }])
  })
})
