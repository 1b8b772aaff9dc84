import { randomUUID } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ClickHouseClient, type ClickHouseSettings, createClient } from '@clickhouse/client'
import { CatalogedError } from '@hourglass/schemas'
import { z } from 'zod'
import { inlineParams } from './inlineParams.ts'
import type { NamedQuery, NamedStatement, TableNames } from './namedStatements.ts'
import {
  createRowBinaryEncoder,
  encodeRowBinary,
  quoteName,
  type RowBinaryBody,
  type TableColumn,
} from './rowBinary.ts'
import { toWarehouseError } from './warehouseErrors.ts'

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

/**
 * The warehouse port: named reads, named statements and row inserts against Hourglass's tables.
 * Every value goes through a bound parameter (a read on chDB has its values written into its text
 * as typed literals instead: see inlineParams); every failure is translated once, here, into a
 * WarehouseUnavailableError (retry later) or a WarehouseRejectedError (the same work fails again).
 */
export interface Warehouse extends TableNames {
  readonly database: string
  /** Runs a named read with bound parameters and checks every row it returns (on the read connection). */
  select<P extends z.ZodType, R extends z.ZodType>(
    query: NamedQuery<P, R>,
    params: z.input<P>,
  ): Promise<z.output<R>[]>
  /** Runs a named statement with bound parameters. */
  run<P extends z.ZodType>(statement: NamedStatement<P>, params: z.input<P>): Promise<void>
  /**
   * Inserts rows. Under a deduplication token, the same token again (a batch written again
   * after a crash) leaves the table, and the materialized views fed from it, as if written once.
   */
  insert(table: string, rows: readonly object[], options?: { readonly token?: string }): Promise<void>
  /**
   * An encoder of rows for `table`, for a bulk load that keeps encoded rows rather than objects
   * between its reads (`insertEncoded` then writes them, as `insert` would the rows). Null where
   * the warehouse takes rows as objects only (a server).
   */
  encoder(table: string): Promise<RowEncoder | null>
  /** Whether `encoder` gives encoders (embedded mode). */
  readonly encodes: boolean
  /** Inserts what an encoder of `table` took, as `insert` does rows. */
  insertEncoded(table: string, rows: EncodedRows, options?: { readonly token?: string }): Promise<void>
  /** True when the warehouse answers. */
  ping(): Promise<boolean>
  /**
   * The connection reads go through (`select` uses it too): in embedded mode a chDB connection of
   * its own, which never writes. For a test's or the bench's ad-hoc reads in other formats.
   */
  readonly client: Pick<ClickHouseClient, 'query'>
  /**
   * The same warehouse, naming tables in another database (a bench baseline or a test beside
   * Hourglass's own tables). It shares the connection and the observers; closing it closes both.
   */
  forDatabase(database: string): Warehouse
  /** Calls `observer` after every statement (the bench's breakdown of where time goes). */
  observe(observer: StatementObserver): void
  close(): Promise<void>
}

/** Rows encoded for one table's insert (see `Warehouse.encoder`). */
export interface EncodedRows {
  /** The qualified table they were encoded for. */
  readonly table: string
  readonly count: number
  readonly body: RowBinaryBody
}

/** Encodes rows for one table's insert, group after group (see rowBinary.ts). */
export interface RowEncoder {
  /** Appends the rows; false, with nothing appended, when they cannot be encoded exactly: insert them as objects. */
  add(rows: readonly object[]): boolean
  /** Rows appended since the last `take`. */
  readonly count: number
  /** What was appended since the last `take` (null when nothing was). */
  take(): EncodedRows | null
}

/** What one statement did: its kind, the qualified table it names (if one), rows sent, time taken. */
export interface ObservedStatement {
  readonly kind: 'select' | 'run' | 'insert'
  readonly table: string
  readonly rows: number
  readonly ms: number
}

export type StatementObserver = (statement: ObservedStatement) => void

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

const STATEMENT_SETTINGS = {
  mutation: { mutations_sync: '2' },
  rewrite: { insert_deduplicate: 0 },
  schema: {},
} as const

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/

/**
 * In embedded mode, an insert of at least this many rows is handed to chDB as a file (a
 * rebuild's batches, a bulk load) rather than inline after its statement: chDB then reads it
 * as it reads any file, without carrying the rows through the statement's text, which costs
 * it about 40% less CPU per row. Live batches (10,000 rows at most by default) stay inline.
 */
export const FILE_INSERT_ROWS = 20_000

/** Rows as JSONEachRow lines, as @clickhouse/client encodes them. */
const jsonLines = (rows: readonly object[]) => {
  let body = ''
  for (const row of rows) body += `${JSON.stringify(row)}\n`
  return body
}

/**
 * The folder insert files go to beside an on-disk chDB folder: `<folder>-inserts`, emptied once
 * per process (what a killed process left there goes with the next start). Every warehouse the
 * process opens over that chDB folder shares it; each file has a name of its own.
 */
const insertFolders = new Map<string, Promise<string>>()
function insertFolderBeside(embeddedPath: string) {
  let folder = insertFolders.get(embeddedPath)
  if (!folder) {
    const path = `${embeddedPath}-inserts`
    folder = rm(path, { recursive: true, force: true })
      .then(() => mkdir(path, { recursive: true }))
      .then(() => path)
    insertFolders.set(embeddedPath, folder)
  }
  return folder
}

/** A path or a structure as a ClickHouse string literal. */
const literal = (text: string) => `'${text.replace(/[\\']/g, '\\$&')}'`

/**
 * Inserts through files: `INSERT INTO t (columns) SELECT * FROM file(…)`, in RowBinary with the
 * rows' columns and the table's types where every row can be written so (see rowBinary.ts), and
 * otherwise as JSONEachRow with the table's own structure. Either way values, defaults and
 * deduplication are those of the inline insert (one block per insert, under the same token).
 * Each file is deleted after its insert.
 */
function createFileInserts(client: ClickHouseClient, embeddedPath: string) {
  const inMemory = embeddedPath === ':memory:'
  const folder = inMemory ? mkdtemp(join(tmpdir(), 'hourglass-inserts-')) : insertFolderBeside(embeddedPath)
  /**
   * The columns an insert may fill (neither computed, MATERIALIZED or ALIAS, nor only given,
   * EPHEMERAL), per table: asked once and remembered until a statement that may change a table
   * runs through this process (`forget`), or an insert fails. A stale answer cannot store a value
   * wrongly: a row naming a column it lacks is inserted as JSON, a column it names that has gone
   * fails the insert, which forgets it.
   */
  const described = new Map<string, Promise<TableColumn[]>>()
  const describe = async (table: string) => {
    const result = await client.query({ query: `DESCRIBE TABLE ${table}`, format: 'JSONEachRow' })
    const columns = (await result.json()) as { name: string; type: string; default_type: string }[]
    return columns.filter((column) => column.default_type === '' || column.default_type === 'DEFAULT')
  }
  const insertable = (table: string) => {
    let columns = described.get(table)
    if (!columns) {
      columns = describe(table)
      columns.catch(() => described.delete(table))
      described.set(table, columns)
    }
    return columns
  }
  return {
    async insert(table: string, rows: readonly object[], settings: ClickHouseSettings) {
      const binary = encodeRowBinary(rows, await insertable(table))
      await insertFile(table, binary ?? jsonLines(rows), settings)
    },
    async encoder(table: string): Promise<RowEncoder> {
      const encoder = createRowBinaryEncoder(await insertable(table))
      return {
        add: (rows) => encoder.add(rows),
        get count() {
          return encoder.count
        },
        take() {
          const count = encoder.count
          const body = encoder.take()
          return body ? { table, count, body } : null
        },
      }
    },
    insertEncoded: (rows: EncodedRows, settings: ClickHouseSettings) =>
      insertFile(rows.table, rows.body, settings),
    /** Tables may have changed: their columns are asked again at their next insert. */
    forget() {
      described.clear()
    },
    async close() {
      // A shared folder stays for the process's other warehouses; a temporary one goes.
      if (inMemory) await rm(await folder, { recursive: true, force: true })
    },
  }

  /** One insert through a file: RowBinary with its columns, or JSONEachRow lines. */
  async function insertFile(table: string, rows: RowBinaryBody | string, settings: ClickHouseSettings) {
    const binary = typeof rows === 'string' ? null : rows
    const path = join(await folder, `${randomUUID()}.${binary ? 'bin' : 'jsonl'}`)
    await writeFile(path, typeof rows === 'string' ? rows : rows.bytes)
    try {
      await client.command({
        query: binary
          ? `INSERT INTO ${table} (${binary.columns.map(quoteName).join(', ')}) SELECT * FROM file(${literal(path)}, 'RowBinary', ${literal(binary.structure)})`
          : `INSERT INTO ${table} SELECT * FROM file(${literal(path)}, 'JSONEachRow')`,
        clickhouse_settings: settings,
      })
    } catch (error) {
      described.delete(table)
      throw error
    } finally {
      await rm(path, { force: true })
    }
  }
}

export class InvalidDatabaseNameError extends CatalogedError {
  constructor(name: string) {
    super(
      'INVALID_DATABASE_NAME',
      `database name "${name}" must be letters, digits and underscores, starting with a letter`,
    )
  }
}

/** Opens the warehouse: a ClickHouse server over HTTP, or chDB embedded in this process. */
export async function openWarehouse(config: WarehouseConfig): Promise<Warehouse> {
  if (!IDENTIFIER.test(config.database)) throw new InvalidDatabaseNameError(config.database)
  let client: ClickHouseClient
  let readClient: ClickHouseClient
  let files: ReturnType<typeof createFileInserts> | null = null
  if (config.url) {
    client = createClient({
      url: config.url,
      username: config.username ?? 'default',
      password: config.password ?? '',
      request_timeout: 60_000,
      // Long parameter lists (the ids of a batch) go in the body rather than the URL.
      use_multipart_params_auto: true,
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
    // The query service's reads go through a connection of their own: a chDB connection runs one
    // statement at a time, so they do not wait behind a projection's inserts, and since it never
    // writes, it states no settings per request (each would cost chDB a statement).
    readClient = createClient({ connection: connect() })
    files = createFileInserts(client, config.embeddedPath ?? ':memory:')
  }
  if (config.createDatabase !== false) {
    await toEdge('create database', () =>
      client.command({ query: `CREATE DATABASE IF NOT EXISTS ${config.database}` }),
    )
  }
  return warehouseOver({ client, readClient, files }, config.database, [])
}

const toEdge = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
  try {
    return await work()
  } catch (error) {
    throw toWarehouseError(what, error)
  }
}

/** The first table a statement names, for observers. */
const namedTable = (sql: string) => /\b(?:FROM|INTO|TABLE)\s+([\w.]+)/i.exec(sql)?.[1] ?? 'other'

function warehouseOver(
  clients: {
    client: ClickHouseClient
    readClient: ClickHouseClient
    files: ReturnType<typeof createFileInserts> | null
  },
  database: string,
  observers: StatementObserver[],
): Warehouse {
  const { client, readClient, files } = clients
  const table = (name: string) => `${database}.${name}`
  const names: TableNames = { table }
  const observed = async <T>(
    kind: ObservedStatement['kind'],
    name: string,
    rows: number,
    work: () => Promise<T>,
  ) => {
    if (observers.length === 0) return toEdge(name, work)
    const since = performance.now()
    try {
      return await toEdge(name, work)
    } finally {
      const statement = { kind, table: name, rows, ms: performance.now() - since }
      for (const observer of observers) observer(statement)
    }
  }
  return {
    database,
    table,
    client: {
      query: ((params: Parameters<ClickHouseClient['query']>[0]) =>
        observed('select', namedTable(params.query), 0, () =>
          readClient.query(params),
        )) as ClickHouseClient['query'],
    },
    select: (query, params) => {
      const sql = query.sql(names)
      return observed('select', namedTable(sql), 0, async () => {
        const values = query.params.parse(params) as Record<string, unknown>
        // In chDB, values written into the read's text let it run beside other statements.
        const result = await readClient.query(
          files
            ? { query: inlineParams(sql, values), format: 'JSONEachRow' }
            : { query: sql, query_params: values, format: 'JSONEachRow' },
        )
        return z.array(query.row).parse(await result.json())
      })
    },
    run: (statement, params) => {
      const sql = statement.sql(names)
      return observed('run', namedTable(sql), 0, async () => {
        try {
          await client.command({
            query: sql,
            query_params: statement.params.parse(params) as Record<string, unknown>,
            clickhouse_settings: STATEMENT_SETTINGS[statement.kind],
          })
        } finally {
          // Any statement may have altered, exchanged, dropped or created a table.
          files?.forget()
        }
      })
    },
    insert: (name, rows, options = {}) =>
      rows.length === 0
        ? Promise.resolve()
        : observed('insert', table(name), rows.length, async () => {
            const token: ClickHouseSettings = options.token
              ? { insert_deduplicate: 1, insert_deduplication_token: options.token }
              : {}
            if (files && rows.length >= FILE_INSERT_ROWS) {
              return files.insert(table(name), rows, token)
            }
            await client.insert({
              table: table(name),
              values: rows as object[],
              format: 'JSONEachRow',
              ...(options.token ? { clickhouse_settings: token } : {}),
            })
          }),
    encodes: files !== null,
    encoder: async (name) => (files ? files.encoder(table(name)) : null),
    insertEncoded: (name, rows, options = {}) =>
      observed('insert', table(name), rows.count, async () => {
        // Encoded for another table (another database's, a generation's), its columns may differ.
        if (!files || rows.table !== table(name)) {
          throw new Error(`rows encoded for ${rows.table} cannot be inserted into ${table(name)}`)
        }
        return files.insertEncoded(
          rows,
          options.token ? { insert_deduplicate: 1, insert_deduplication_token: options.token } : {},
        )
      }),
    ping: async () => (await client.ping()).success,
    forDatabase(other) {
      if (!IDENTIFIER.test(other)) throw new InvalidDatabaseNameError(other)
      return warehouseOver(clients, other, observers)
    },
    observe: (observer) => {
      observers.push(observer)
    },
    async close() {
      if (readClient !== client) await readClient.close()
      await client.close()
      await files?.close()
    },
  }
}
