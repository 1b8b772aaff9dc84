import { type ClickHouseClient, createClient } from '@clickhouse/client'

export interface WarehouseConfig {
  /** A ClickHouse server (`http://host:8123`); when absent, ClickHouse runs in-process through chDB. */
  readonly url?: string | undefined
  readonly username?: string | undefined
  readonly password?: string | undefined
  /** chDB data folder, used when `url` is absent. One per process. */
  readonly embeddedPath?: string | undefined
  /** Database holding Hourglass's tables. */
  readonly database: string
  /**
   * Creates the database when missing (the default). A process that only reads a server's
   * tables sets false: it then starts, and does its other work, while the server is away.
   */
  readonly createDatabase?: boolean
}

export interface Warehouse {
  readonly client: ClickHouseClient
  /**
   * For SELECTs only. Embedded, a chDB connection of its own: a connection runs one statement at
   * a time, so reads do not wait behind a projection's inserts, and since it never writes, it
   * states no settings per request (each would cost chDB a statement). On a server, `client`.
   */
  readonly readClient: Pick<ClickHouseClient, 'query'>
  /** Qualified table name: the database is validated at start, so it may stand in SQL text. */
  table(name: string): string
  readonly database: string
  close(): Promise<void>
}

type ClientConnection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>['connection']>

/**
 * Settings every request states, so that none is inherited: chDB applies a request's settings
 * as SET statements that stay in force for the rest of its session, which would let one
 * batch's deduplication token or a mutation's sync mode leak into the next request.
 */
const REQUEST_DEFAULTS = {
  insert_deduplicate: 1,
  insert_deduplication_token: '',
  deduplicate_blocks_in_dependent_materialized_views: 1,
  mutations_sync: '0',
  async_insert: 0,
} as const

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/

export class InvalidDatabaseNameError extends Error {
  readonly code = 'INVALID_DATABASE_NAME'
  constructor(name: string) {
    super(`database name "${name}" must be letters, digits and underscores, starting with a letter`)
  }
}

/** Opens the warehouse: a ClickHouse server over HTTP, or chDB embedded in this process. */
export async function openWarehouse(config: WarehouseConfig): Promise<Warehouse> {
  if (!IDENTIFIER.test(config.database)) throw new InvalidDatabaseNameError(config.database)
  let client: ClickHouseClient
  let readClient: ClickHouseClient
  if (config.url) {
    client = createClient({
      url: config.url,
      username: config.username ?? 'default',
      password: config.password ?? '',
      request_timeout: 60_000,
      clickhouse_settings: REQUEST_DEFAULTS,
    })
    readClient = client
  } else {
    // Loaded only in embedded mode: the chDB library is large and servers do not need it.
    const { createChdbConnection } = await import('chdb/connection')
    // chDB types its connection against @clickhouse/client-common, whose settings list differs
    // slightly from the one bundled in @clickhouse/client; at run time they are the same interface.
    const connect = () =>
      createChdbConnection({ path: config.embeddedPath ?? ':memory:' }) as unknown as ClientConnection
    client = createClient({ connection: connect(), clickhouse_settings: REQUEST_DEFAULTS })
    readClient = createClient({ connection: connect() })
  }
  if (config.createDatabase !== false) {
    await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${config.database}` })
  }
  return {
    client,
    readClient,
    database: config.database,
    table: (name) => `${config.database}.${name}`,
    async close() {
      if (readClient !== client) await readClient.close()
      await client.close()
    },
  }
}

/**
 * Inserts rows under a deduplication token: the same token again (a batch written again after a
 * crash) leaves the table, and the materialized views fed from it, as if written once.
 */
export async function insertDeduplicated(
  warehouse: Warehouse,
  table: string,
  rows: readonly object[],
  token: string,
): Promise<void> {
  if (rows.length === 0) return
  await warehouse.client.insert({
    table: warehouse.table(table),
    values: rows as object[],
    format: 'JSONEachRow',
    clickhouse_settings: {
      insert_deduplicate: 1,
      insert_deduplication_token: token,
      deduplicate_blocks_in_dependent_materialized_views: 1,
      async_insert: 0,
    },
  })
}
