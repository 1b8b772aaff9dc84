/**
 * Connections to PostgreSQL, and the one place where the driver's failures become ours.
 *
 * The driver is `pg` (node-postgres) with its pool, `pg-pool`: the most used PostgreSQL client of
 * Node.js, maintained for over a decade, with values always sent apart from the statement text
 * (`query(text, values)`), a pool that gives up on a connection after a set time instead of
 * waiting forever, server- and client-side statement timeouts, and the server's SQLSTATE and
 * constraint name on every error it reports, which is what the translation below decides on.
 */
import { CatalogedError } from '@hourglass/schemas'
import pg from 'pg'
import { LogClosedError, LogUnavailableError } from '../logErrors.ts'

export interface PostgresOptions {
  /** e.g. postgres://hourglass:secret@127.0.0.1:5432/hourglass */
  readonly url: string
  /** The schema of Hourglass's tables, made at the first start: lower-case letters, digits, underscores. */
  readonly schema?: string
  /** Most connections this process opens (default 10). */
  readonly poolSize?: number
  /** Longest wait for a connection before the operation is unavailable (default 5 s). */
  readonly connectTimeoutMs?: number
  /** Longest a statement may run before the server cancels it and the operation is unavailable (default 10 s). */
  readonly statementTimeoutMs?: number
  /** How the connections show in pg_stat_activity. */
  readonly applicationName?: string
  /**
   * A connection that broke while nobody used it (the server restarted, say). The pool drops it
   * and opens another when asked; an operation that then fails says so itself.
   */
  readonly onIdleConnectionError?: (error: Error) => void
}

export const DEFAULT_SCHEMA = 'hourglass'
/** A schema name that needs no quoting: the one name that goes into statement text. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/

/** A statement's rows, or an answer of zero rows to a statement that returns none. */
export interface Queryable {
  query<Row = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<Row[]>
}

/** One connection, held for a while: statements that must share a session (a lock, a transaction). */
export interface PostgresConnection extends Queryable {
  /** Runs `work` in a transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>
}

/** Notifications on a channel, over a connection of their own. */
export interface PostgresListener {
  close(): Promise<void>
}

export interface PostgresPool extends PostgresConnection {
  readonly schema: string
  /** Holds one connection for `work`; a failure inside drops it rather than give it to another. */
  connection<T>(work: (connection: PostgresConnection) => Promise<T>): Promise<T>
  /**
   * Listens on a channel over a connection outside the pool; `onLost` is told once if that
   * connection breaks (no notification can arrive after it).
   */
  listen(channel: string, onPayload: (payload: string) => void, onLost: () => void): Promise<PostgresListener>
  close(): Promise<void>
}

/** The server refused a statement for a reason retrying will not change (a constraint, a missing table, a bad login). */
export class PostgresRefusedError extends CatalogedError {
  /** The server's SQLSTATE, e.g. 23505 for a unique violation. */
  readonly sqlState: string
  /** The constraint a violation broke, when the server names one. */
  readonly constraint: string | undefined
  constructor(what: string, cause: pg.DatabaseError) {
    super('POSTGRES_REFUSED', `PostgreSQL refused ${what} (SQLSTATE ${cause.code})`, { cause })
    this.sqlState = cause.code ?? ''
    this.constraint = cause.constraint
  }
}

/** SQLSTATEs after which the same statement may well succeed later. */
const TRANSIENT_CLASSES = new Set([
  '08', // connection exception
  '53', // insufficient resources: too many connections, disk full, out of memory
  '57', // operator intervention: shutdown, cannot connect now, statement timeout
])
const TRANSIENT_STATES = new Set([
  '40001', // serialization failure
  '40P01', // deadlock detected
  '55P03', // lock not available
  '25P03', // idle in transaction session timeout
])

/**
 * The driver's failure as Hourglass's: an answer of the server is transient (unavailable) or a
 * refusal by its SQLSTATE; anything else means the server did not answer (no connection, a
 * broken one, a timeout) and is unavailable.
 */
export function translatePostgresError(what: string, error: unknown): Error {
  if (error instanceof LogUnavailableError || error instanceof LogClosedError) return error
  if (error instanceof PostgresRefusedError) return error
  if (error instanceof pg.DatabaseError) {
    const state = error.code ?? ''
    return TRANSIENT_CLASSES.has(state.slice(0, 2)) || TRANSIENT_STATES.has(state)
      ? new LogUnavailableError(`PostgreSQL could not run ${what} (SQLSTATE ${state})`, { cause: error })
      : new PostgresRefusedError(what, error)
  }
  return new LogUnavailableError(`PostgreSQL did not answer ${what}`, { cause: error })
}

export const isUniqueViolation = (error: unknown, constraint: string) =>
  error instanceof PostgresRefusedError && error.sqlState === '23505' && error.constraint === constraint

const queryableOver = (client: pg.ClientBase): Queryable => ({
  async query<Row>(text: string, values?: readonly unknown[]) {
    try {
      return (await client.query(text, values as unknown[])).rows as Row[]
    } catch (error) {
      throw translatePostgresError('a statement', error)
    }
  },
})

const connectionOver = (client: pg.ClientBase): PostgresConnection => {
  const self = queryableOver(client)
  return {
    query: self.query,
    async transaction(work) {
      await self.query('BEGIN')
      try {
        const result = await work(self)
        await self.query('COMMIT')
        return result
      } catch (error) {
        // A server's refusal leaves the session usable once rolled back; any other failure
        // drops the connection (see `connection`), which rolls back on the server.
        if (error instanceof PostgresRefusedError) await self.query('ROLLBACK')
        throw error
      }
    },
  }
}

/** The pool's schema, checked: it is the one name that goes into statement text. */
export function schemaOf(options: PostgresOptions): string {
  const schema = options.schema ?? DEFAULT_SCHEMA
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(
      `the PostgreSQL schema must be lower-case letters, digits and underscores, not "${schema}"`,
    )
  }
  return schema
}

/** A pool of connections whose unqualified names resolve in `options.schema`. */
export function openPostgresPool(options: PostgresOptions): PostgresPool {
  const schema = schemaOf(options)
  const statementTimeoutMs = options.statementTimeoutMs ?? 10_000
  const config: pg.PoolConfig = {
    connectionString: options.url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    // The server cancels a statement that runs too long; the client stops waiting for one whose
    // answer does not come (a server that vanished without closing the connection).
    statement_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs + 2_000,
    // A process that stalls inside a transaction must not hold the control store's head for long.
    idle_in_transaction_session_timeout: 10_000,
    application_name: options.applicationName ?? 'hourglass',
    options: `-c search_path=${schema}`,
  }
  const pool = new pg.Pool(config)
  pool.on('error', (error) => options.onIdleConnectionError?.(error))
  let closed = false

  /**
   * Holds one connection for `work`. One that failed is dropped, which also ends whatever its
   * session held (a transaction, an advisory lock); after a refusal of a single statement the
   * session is as it was, and the connection is kept if `keepAfterRefusal`.
   */
  const hold = async <T>(
    work: (connection: PostgresConnection) => Promise<T>,
    keepAfterRefusal: boolean,
  ): Promise<T> => {
    if (closed) throw new LogClosedError()
    let client: pg.PoolClient
    try {
      client = await pool.connect()
    } catch (error) {
      throw closed ? new LogClosedError() : translatePostgresError('a connection', error)
    }
    // A checked-out connection that breaks between two statements reports it here; the next
    // statement on it then fails, and the connection is dropped below.
    const broken = () => undefined
    client.on('error', broken)
    let drop = true
    try {
      const result = await work(connectionOver(client))
      drop = false
      return result
    } catch (error) {
      drop = !(keepAfterRefusal && error instanceof PostgresRefusedError)
      throw error
    } finally {
      client.off('error', broken)
      client.release(drop)
    }
  }

  return {
    schema,
    query: (text, values) => hold((held) => held.query(text, values), true),
    connection: (work) => hold(work, false),
    transaction: (work) => hold((held) => held.transaction(work), true),
    async listen(channel, onPayload, onLost) {
      if (closed) throw new LogClosedError()
      const client = new pg.Client({ ...config, query_timeout: undefined })
      let lost = false
      const lose = () => {
        if (lost) return
        lost = true
        onLost()
      }
      client.on('error', lose)
      client.on('end', lose)
      client.on('notification', (message) => {
        if (message.channel === channel) onPayload(message.payload ?? '')
      })
      try {
        await client.connect()
        await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`)
      } catch (error) {
        lost = true
        await client.end().catch(() => undefined)
        throw translatePostgresError('LISTEN', error)
      }
      return {
        async close() {
          lost = true
          await client.end().catch(() => undefined)
        },
      }
    },
    async close() {
      if (closed) return
      closed = true
      await pool.end()
    },
  }
}
