import { z } from 'zod'
import { formatCents, Money, MoneyText } from './money.ts'
import { producerId } from './telemetry.ts'
import { trimmedName } from './wellFormed.ts'

/** Earliest and latest purchase times accepted, as for every event. */
const MIN_RECEIPT_TIME = Date.UTC(2000, 0, 1)
const MAX_FUTURE_SKEW_MS = 7 * 24 * 3600 * 1000

/** Most lines one receipt may hold, and most units of one line. */
export const MAX_RECEIPT_ITEMS = 1000
export const MAX_ITEM_QUANTITY = 1_000_000

const isoDateTime = z.iso.datetime({ offset: true, local: true })

/**
 * When the purchase happened: ISO-8601 date-time, or epoch milliseconds. Seed 003's receipts
 * carry no zone ("2024-02-07T12:34:56"); a time without a zone is read as UTC.
 */
export const ReceiptTime = z
  .union(
    [
      isoDateTime.transform((s) => Date.parse(/(Z|[+-]\d{2}:?\d{2})$/i.test(s) ? s : `${s}Z`)),
      z.number().int().nonnegative(),
    ],
    { error: 'must be an ISO-8601 date-time (UTC when it has no zone) or epoch milliseconds' },
  )
  .refine((ms) => ms >= MIN_RECEIPT_TIME, { error: 'is before 2000-01-01' })
  .refine((ms) => ms <= Date.now() + MAX_FUTURE_SKEW_MS, { error: 'is more than 7 days in the future' })

export const ReceiptItemInput = z.object({
  product_id: producerId(128),
  quantity: z
    .number({ error: 'must be a whole number of units' })
    .int({ error: 'must be a whole number of units' })
    .positive({ error: 'must be at least 1' })
    .max(MAX_ITEM_QUANTITY, { error: `must be at most ${MAX_ITEM_QUANTITY}` }),
  price: Money,
  category: producerId(100),
})

/**
 * A purchase receipt as seed 003 sends it. Every field is required; fields it does not name
 * are accepted and dropped. `total_amount` must equal Σ quantity × price to the cent;
 * `nds_amount` (VAT) and `tips_amount` are separate figures, not part of the total.
 */
export const ReceiptInput = z
  .object({
    transaction_id: producerId(128),
    timestamp: ReceiptTime,
    items: z
      .array(ReceiptItemInput, { error: 'must be a list of items' })
      .min(1, { error: 'must hold at least one item' })
      .max(MAX_RECEIPT_ITEMS, { error: `must hold at most ${MAX_RECEIPT_ITEMS} items` }),
    total_amount: Money,
    nds_amount: Money,
    tips_amount: Money,
    payment_method: producerId(64),
    place_id: producerId(128),
    place_name: trimmedName(200),
  })
  .check((ctx) => {
    const { items, total_amount } = ctx.value
    const sum = items.reduce((cents, item) => cents + BigInt(item.quantity) * item.price, 0n)
    if (sum !== total_amount) {
      ctx.issues.push({
        code: 'custom',
        path: ['total_amount'],
        message: `is ${formatCents(total_amount)} but the items add up to ${formatCents(sum)} (Σ quantity × price)`,
        input: ctx.value,
      })
    }
  })
export type ReceiptInput = z.output<typeof ReceiptInput>

/** A receipt as the log holds it: validated, normalised (money as two-place decimal text) and stamped. */
export const ReceiptRecord = z.object({
  transactionId: z.string().min(1),
  accountId: z.string().min(1),
  sourceId: z.string().min(1),
  placeId: z.string().min(1),
  placeName: z.string().min(1),
  paymentMethod: z.string().min(1),
  timestamp: z.number().int(),
  receivedAt: z.number().int(),
  items: z
    .array(
      z.object({
        productId: z.string().min(1),
        category: z.string().min(1),
        quantity: z.number().int().positive(),
        price: MoneyText,
      }),
    )
    .min(1),
  total: MoneyText,
  nds: MoneyText,
  tips: MoneyText,
})
export type ReceiptRecord = z.infer<typeof ReceiptRecord>

/** The log record type of a receipt. Its stream is the source's telemetry stream; its id is `transaction_id`. */
export const RECEIPT_RECEIVED = 'receipt.received'

/** A receipt as the native API shows it (ingest's answer, the journal): money as two-place decimal text. */
export const ReceiptView = z.object({
  transactionId: z.string(),
  position: z.number(),
  sourceId: z.string(),
  placeId: z.string(),
  placeName: z.string(),
  paymentMethod: z.string(),
  timestamp: z.string(),
  receivedAt: z.string(),
  items: z.array(
    z.object({ productId: z.string(), category: z.string(), quantity: z.number(), price: z.string() }),
  ),
  total: z.string(),
  nds: z.string(),
  tips: z.string(),
})
export type ReceiptView = z.infer<typeof ReceiptView>

export const toReceiptView = (position: number, r: ReceiptRecord): ReceiptView => ({
  transactionId: r.transactionId,
  position,
  sourceId: r.sourceId,
  placeId: r.placeId,
  placeName: r.placeName,
  paymentMethod: r.paymentMethod,
  timestamp: new Date(r.timestamp).toISOString(),
  receivedAt: new Date(r.receivedAt).toISOString(),
  items: r.items.map((item) => ({ ...item })),
  total: r.total,
  nds: r.nds,
  tips: r.tips,
})
