import {
  CatalogedError,
  findJsonFault,
  freeFormJson,
  isWellFormed,
  type JsonRule,
  wellFormedJson,
} from '@hourglass/schemas'
import { InvalidLogRecordError } from '../invalidLogRecord.ts'
import { WarehouseRejectedError } from '../warehouse/warehouseErrors.ts'
import type { BatchInsert } from './batchLedger.ts'
import { positionColumnOf } from './batchRepair.ts'

/** Error codes that say a record itself cannot be applied: the same record fails the same way every time. */
const RECORD_FAULT_CODES = new Set(['INVALID_LOG_RECORD', 'WAREHOUSE_REJECTED'])
/**
 * ClickHouse refusing a write because a table or database is not there (dropped by hand, or a
 * cancelled build's): no record is to blame, and probing for one would only write to what is gone.
 */
const TABLE_GONE_TYPES = new Set(['UNKNOWN_TABLE', 'UNKNOWN_DATABASE', 'TABLE_IS_DROPPED'])

/**
 * Whether a failed write may be the fault of the records it held, rather than of the engine:
 * ClickHouse refused what it was sent (a value it cannot parse, a type it refuses), or a record
 * does not match its schema. An engine that is away, slow or overloaded is never the records'
 * fault: those failures are retried with backoff and never quarantine anything.
 */
export const isRecordFault = (error: unknown): boolean =>
  error instanceof WarehouseRejectedError
    ? !TABLE_GONE_TYPES.has(error.engineType)
    : error instanceof CatalogedError && RECORD_FAULT_CODES.has(error.code) && !error.retryable

/** Longest error text kept with a quarantined record. */
const MESSAGE_LIMIT = 2_000

/** The stable code and the text an operator sees for the error that set a record aside. */
export function faultOf(error: unknown): { code: string; message: string } {
  const message = (error instanceof Error ? error.message : String(error)).slice(0, MESSAGE_LIMIT)
  if (error instanceof WarehouseRejectedError) return { code: error.engineType, message }
  if (error instanceof CatalogedError) return { code: error.code, message }
  return { code: 'UNKNOWN', message }
}

/** What the warehouse can store faithfully: well-formed strings and keys, finite numbers. */
const storableJson: JsonRule = { ...wellFormedJson, number: freeFormJson.number }

/** Whether a row value holds a string or key that is not well-formed, or a number that is not finite. */
const unstorable = (value: unknown): boolean => {
  if (typeof value === 'string') return !isWellFormed(value)
  if (typeof value === 'number') return !Number.isFinite(value)
  if (typeof value !== 'object' || value === null) return false
  if (Array.isArray(value)) return value.some(unstorable)
  for (const key in value) {
    if (!isWellFormed(key) || unstorable((value as Record<string, unknown>)[key])) return true
  }
  return false
}

/**
 * Checks every row before it is sent: a row the warehouse cannot store faithfully is refused as
 * its record's fault, the same way every time. (ClickHouse refuses a lone surrogate in some
 * places of an insert and stores it as three invalid bytes in others.)
 */
export const checkedInsert =
  (insert: BatchInsert): BatchInsert =>
  async (table, rows) => {
    for (const row of rows) {
      if (!unstorable(row)) continue
      const fault = findJsonFault(row, storableJson)
      const position = (row as Record<string, unknown>)[positionColumnOf(table)]
      throw new InvalidLogRecordError(
        typeof position === 'number' ? position : -1,
        `${table}.${fault?.path.join('.') ?? '?'} ${fault?.message ?? 'cannot be stored'}`,
      )
    }
    await insert(table, rows)
  }
