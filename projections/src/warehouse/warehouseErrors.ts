import { CatalogedError } from '@hourglass/schemas'

/**
 * ClickHouse error types that say the engine could not do the work right now, not that the work
 * is wrong: trying again later may succeed. Everything else ClickHouse answers about a statement
 * (a value it cannot parse, a type it refuses) fails the same way every time.
 * Names as in ClickHouse's src/Common/ErrorCodes.cpp.
 */
const TRANSIENT_TYPES = new Set([
  'TIMEOUT_EXCEEDED',
  'SOCKET_TIMEOUT',
  'NETWORK_ERROR',
  'NO_FREE_CONNECTION',
  'ALL_CONNECTION_TRIES_FAILED',
  'TOO_MANY_SIMULTANEOUS_QUERIES',
  'TOO_MANY_PARTS',
  'MEMORY_LIMIT_EXCEEDED',
  'TABLE_IS_READ_ONLY',
  'QUERY_WAS_CANCELLED',
  'ABORTED',
  'KEEPER_EXCEPTION',
  'UNEXPECTED_END_OF_FILE',
  'CANNOT_SCHEDULE_TASK',
  'SERVER_OVERLOADED',
  'TOO_MANY_QUERIES',
  'CANNOT_ALLOCATE_MEMORY',
  'NOT_ENOUGH_SPACE',
])

/** The warehouse did not answer, or answered that it cannot do the work now: retry later. */
export class WarehouseUnavailableError extends CatalogedError {
  constructor(
    readonly statement: string,
    readonly engineType: string | null,
    options: { cause: unknown },
  ) {
    super(
      'WAREHOUSE_UNAVAILABLE',
      `the warehouse could not run ${statement} now: ${reason(options.cause)}`,
      options,
    )
  }
}

/** The warehouse refused a statement for what it holds: the same statement fails again. */
export class WarehouseRejectedError extends CatalogedError {
  constructor(
    readonly statement: string,
    /** ClickHouse's name for the error, e.g. CANNOT_PARSE_ESCAPE_SEQUENCE. */
    readonly engineType: string,
    options: { cause: unknown },
  ) {
    super('WAREHOUSE_REJECTED', `the warehouse refused ${statement}: ${reason(options.cause)}`, options)
  }
}

export type WarehouseError = WarehouseUnavailableError | WarehouseRejectedError

const reason = (error: unknown) => (error instanceof Error ? error.message : String(error))

/**
 * An error ClickHouse itself answered with: a numeric code and its name. The HTTP client and chDB
 * each bring their own copy of the client's error class, so it is recognised by its fields.
 */
const engineErrorType = (error: unknown): string | null => {
  if (!(error instanceof Error)) return null
  const { code, type } = error as { code?: unknown; type?: unknown }
  return typeof code === 'string' && /^\d+$/.test(code) && typeof type === 'string' ? type : null
}

/** Translates what the ClickHouse client threw, once, here at the edge. */
export function toWarehouseError(statement: string, error: unknown): WarehouseError {
  if (error instanceof WarehouseUnavailableError || error instanceof WarehouseRejectedError) return error
  const type = engineErrorType(error)
  if (type !== null && !TRANSIENT_TYPES.has(type)) {
    return new WarehouseRejectedError(statement, type, { cause: error })
  }
  // No answer at all (a refused connection, a timeout, a reset socket), or a transient one.
  return new WarehouseUnavailableError(statement, type, { cause: error })
}
