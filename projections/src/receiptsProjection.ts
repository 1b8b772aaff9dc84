import type { TelemetryRecord } from '@hourglass/log'
import {
  centsFromDecimalText,
  formatCents,
  MAX_MONEY_CENTS,
  RECEIPT_RECEIVED,
  type ReceiptRecord as Receipt,
  ReceiptRecord,
} from '@hourglass/schemas'
import { InvalidLogRecordError, type Projection } from './projection.ts'
import { tables } from './tables.ts'
import { truncateTables } from './warehouse/namedStatements.ts'

export interface ReceiptRow {
  account_id: string
  source_id: string
  place_id: string
  place_name: string
  position: number
  transaction_id: string
  ts: number
  received_at: number
  payment_method: string
  units: number
  total_amount: string
  nds_amount: string
  tips_amount: string
  /** The lines, as parallel arrays. */
  product_ids: string[]
  categories: string[]
  quantities: number[]
  prices: string[]
  /** quantity × price of each line. */
  amounts: string[]
}

export interface ReceiptRunRow {
  account_id: string
  from_position: number
  to_position: number
  receipts: number
  units: number
  revenue: string
  first_ts: number
  last_ts: number
  computed_at: number
}

const cents = (text: string) => centsFromDecimalText(text)!

/** Ingest caps a receipt's total, which its lines add up to, at 10^12 cents. */
const MAX_LINE_CENTS = Number(MAX_MONEY_CENTS)

/**
 * quantity × price as decimal text, in integer arithmetic on plain numbers (cheaper than bigint
 * at a million receipts, and exact: a line's cents are at most its receipt's total, 10^12).
 * Null for a line beyond that, which ingest never writes.
 */
const lineAmount = (quantity: number, price: string): string | null => {
  const [units = '0', fraction = ''] = price.split('.')
  const product = quantity * (Number(units) * 100 + Number(fraction.padEnd(2, '0')))
  if (!(product <= MAX_LINE_CENTS)) return null
  return `${Math.floor(product / 100)}.${String(product % 100).padStart(2, '0')}`
}

export const parseReceiptRecord = (record: TelemetryRecord): Receipt => {
  const parsed = ReceiptRecord.safeParse(record.data)
  if (!parsed.success) throw new InvalidLogRecordError(record.position, parsed.error.message)
  return parsed.data
}

export const toReceiptRow = (position: number, receipt: Receipt): ReceiptRow => {
  const { items } = receipt
  const amounts = items.map((item, line) => {
    const amount = lineAmount(item.quantity, item.price)
    if (amount === null)
      throw new InvalidLogRecordError(position, `line ${line} comes to more than a receipt's total may hold`)
    return amount
  })
  return {
    account_id: receipt.accountId,
    source_id: receipt.sourceId,
    place_id: receipt.placeId,
    place_name: receipt.placeName,
    position,
    transaction_id: receipt.transactionId,
    ts: receipt.timestamp,
    received_at: receipt.receivedAt,
    payment_method: receipt.paymentMethod,
    units: items.reduce((sum, item) => sum + item.quantity, 0),
    total_amount: receipt.total,
    nds_amount: receipt.nds,
    tips_amount: receipt.tips,
    product_ids: items.map((item) => item.productId),
    categories: items.map((item) => item.category),
    quantities: items.map((item) => item.quantity),
    prices: items.map((item) => item.price),
    amounts,
  }
}

/** One journal row per account whose receipts a batch carried: what this run added to its analytics. */
const toRunRows = (
  from: number,
  to: number,
  receipts: readonly ReceiptRow[],
  computedAt: number,
): ReceiptRunRow[] => {
  const byAccount = new Map<
    string,
    { rows: number; units: number; revenue: bigint; first: number; last: number }
  >()
  for (const row of receipts) {
    const run = byAccount.get(row.account_id) ?? {
      rows: 0,
      units: 0,
      revenue: 0n,
      first: row.ts,
      last: row.ts,
    }
    run.rows += 1
    run.units += row.units
    run.revenue += cents(row.total_amount)
    run.first = Math.min(run.first, row.ts)
    run.last = Math.max(run.last, row.ts)
    byAccount.set(row.account_id, run)
  }
  return [...byAccount].map(([accountId, run]) => ({
    account_id: accountId,
    from_position: from,
    to_position: to,
    receipts: run.rows,
    units: run.units,
    revenue: formatCents(run.revenue),
    first_ts: run.first,
    last_ts: run.last,
    computed_at: computedAt,
  }))
}

/**
 * Purchase receipts: each receipt with its lines, and through materialized views the hourly
 * analytics per place (purchases, revenue, VAT, tips), per place and category (units sold,
 * revenue) and the places with their names. Each batch also writes its journal rows (seed 003's
 * "analytics run" journal): the hourly Celery job it replaces is a batch here, seconds after
 * the receipts reached the log.
 */
export const receiptsProjection: Projection = {
  name: 'receipts',
  version: 1,
  async apply(records, { insert }) {
    const receipts: ReceiptRow[] = []
    for (const record of records) {
      if (record.type === RECEIPT_RECEIVED)
        receipts.push(toReceiptRow(record.position, parseReceiptRecord(record)))
    }
    if (receipts.length === 0) return
    await insert(tables.receiptsRaw, receipts)
    // `computed_at` is the one value a rewritten batch does not repeat: harmless, because a
    // batch in doubt finds its journal rows by `from_position` and leaves them as they are.
    const from = records[0]!.position
    const to = records[records.length - 1]!.position + 1
    await insert(tables.receiptRuns, toRunRows(from, to, receipts, Date.now()))
  },
  tables: [
    tables.receiptsRaw,
    tables.receiptsHourly,
    tables.receiptCategoriesHourly,
    tables.receiptPlaces,
    tables.receiptRuns,
  ],
  reset: (warehouse) => truncateTables(warehouse, receiptsProjection.tables),
}
