import pg from 'pg'
import { openPostgresPool, type PostgresOptions, type PostgresPool } from './postgresPool.ts'

/** One step of a component's schema. Never edit one that has shipped: add the next. */
export interface Migration {
  readonly version: number
  readonly name: string
  readonly statements: readonly string[]
}

/**
 * Brings a component's tables (the control store's, the person keys') up to its last migration.
 * Safe at every start, and when several processes start at once: they take turns under an
 * advisory lock of the schema, and each step commits with its row in schema_migrations, so a
 * step is applied once or not at all.
 */
export async function migrate(
  pool: PostgresPool,
  component: string,
  migrations: readonly Migration[],
): Promise<void> {
  await pool.connection(async (session) => {
    // Session-level: held across the steps' transactions; a dropped connection frees it.
    const lock = [`hourglass migrations of ${pool.schema}`]
    await session.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', lock)
    // The schema's name is checked by the pool (schemaOf): letters, digits and underscores.
    await session.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(pool.schema)}`)
    await session.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
        component text NOT NULL,
        version integer NOT NULL,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (component, version)
      )`,
    )
    const applied = await session.query<{ version: number }>(
      'SELECT version FROM schema_migrations WHERE component = $1',
      [component],
    )
    const done = new Set(applied.map((row) => row.version))
    for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(migration.version)) continue
      await session.transaction(async (tx) => {
        for (const statement of migration.statements) await tx.query(statement)
        await tx.query('INSERT INTO schema_migrations (component, version, name) VALUES ($1, $2, $3)', [
          component,
          migration.version,
          migration.name,
        ])
      })
    }
    await session.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', lock)
  })
}

/** A component's pool, with its tables up to date; `close` ends the pool only if it is the component's own. */
export interface PreparedPool {
  readonly pool: PostgresPool
  close(): Promise<void>
}

/**
 * The pool a component (a store) works on: the one it is given to share, or one of its own made
 * from options, which it closes again if its tables cannot be brought up to date.
 */
export async function preparePool(
  postgres: PostgresPool | PostgresOptions,
  component: string,
  migrations: readonly Migration[],
): Promise<PreparedPool> {
  const owned = !('query' in postgres)
  const pool = 'query' in postgres ? postgres : openPostgresPool(postgres)
  const close = async () => {
    if (owned) await pool.close()
  }
  try {
    await migrate(pool, component, migrations)
  } catch (error) {
    await close()
    throw error
  }
  return { pool, close }
}
