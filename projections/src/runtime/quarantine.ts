import { CatalogedError } from '@hourglass/schemas'
import { WarehouseRejectedError } from '../warehouse/warehouseErrors.ts'

/** Error codes that say a record itself cannot be applied: the same record fails the same way every time. */
const RECORD_FAULT_CODES = new Set(['INVALID_LOG_RECORD', 'WAREHOUSE_REJECTED'])

/**
 * Whether a failed write may be the fault of the records it held, rather than of the engine:
 * ClickHouse refused what it was sent (a value it cannot parse, a type it refuses), or a record
 * does not match its schema. An engine that is away, slow or overloaded is never the records'
 * fault: those failures are retried with backoff and never quarantine anything.
 */
export const isRecordFault = (error: unknown): boolean =>
  error instanceof WarehouseRejectedError ||
  (error instanceof CatalogedError && RECORD_FAULT_CODES.has(error.code) && !error.retryable)

/** Longest error text kept with a quarantined record. */
const MESSAGE_LIMIT = 2_000

/** The stable code and the text an operator sees for the error that set a record aside. */
export function faultOf(error: unknown): { code: string; message: string } {
  const message = (error instanceof Error ? error.message : String(error)).slice(0, MESSAGE_LIMIT)
  if (error instanceof WarehouseRejectedError) return { code: error.engineType, message }
  if (error instanceof CatalogedError) return { code: error.code, message }
  return { code: 'UNKNOWN', message }
}
