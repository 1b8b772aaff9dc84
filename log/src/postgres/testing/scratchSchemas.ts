import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { PostgresOptions } from '../postgresPool.ts'

/** The PostgreSQL of the tests: the machine's own (trust authentication) unless HOURGLASS_TEST_POSTGRES_URL names another. */
export const testPostgresUrl = () =>
  process.env.HOURGLASS_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/**
 * Schemas of one test file, each used by nobody else: `options()` names a new one (made by the
 * first store opened on it), `dropAll()` drops every one named so far.
 */
export function scratchSchemas(label: string) {
  const url = testPostgresUrl()
  const run = `t_${label}_${process.pid}_${randomBytes(3).toString('hex')}`
  const named: string[] = []
  return {
    url,
    options(overrides: Partial<PostgresOptions> = {}): PostgresOptions {
      const schema = `${run}_${named.length}`
      named.push(schema)
      return { url, schema, poolSize: 4, ...overrides }
    },
    async dropAll() {
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      try {
        for (const schema of named.splice(0)) {
          await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`)
        }
      } finally {
        await client.end()
      }
    },
  }
}
