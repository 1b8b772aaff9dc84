import { bearerOrToken, type ControlPlane, type Source } from '@hourglass/control'
import type { TelemetryLog } from '@hourglass/log'
import {
  errors,
  formatCents,
  HourglassError,
  RECEIPT_RECEIVED,
  type ReceiptInput,
  ReceiptRecord,
  telemetryStream,
} from '@hourglass/schemas'
import type { FastifyRequest } from 'fastify'

/** Source kinds whose API tokens may send receipts: a point of sale is a place or a store. */
export const RECEIPT_SOURCE_KINDS: readonly string[] = ['place', 'store']

/** The place or store source a receipt request's API token belongs to (401 unknown, 403 wrong kind). */
export async function authenticateReceiptSource(
  controlPlane: ControlPlane,
  request: FastifyRequest,
): Promise<Source> {
  const token = bearerOrToken(request)
  if (!token)
    throw errors.unauthenticated(
      'send the place or store source API token as "Authorization: Bearer <token>"',
    )
  const source = await controlPlane.authenticateSource(token)
  if (!source) throw errors.unauthenticated('the API token is not valid')
  if (!RECEIPT_SOURCE_KINDS.includes(source.kind))
    throw errors.forbidden(`receipts are sent with a place or store source's token, not an ${source.kind}'s`)
  return source
}

/** A validated receipt stamped for the log: money as two-place decimal text. */
export function toReceiptRecord(source: Source, input: ReceiptInput, receivedAt: number): ReceiptRecord {
  return {
    transactionId: input.transaction_id,
    accountId: source.accountId,
    sourceId: source.sourceId,
    placeId: input.place_id,
    placeName: input.place_name,
    paymentMethod: input.payment_method,
    timestamp: input.timestamp,
    receivedAt,
    items: input.items.map((item) => ({
      productId: item.product_id,
      category: item.category,
      quantity: item.quantity,
      price: formatCents(item.price),
    })),
    total: formatCents(input.total_amount),
    nds: formatCents(input.nds_amount),
    tips: formatCents(input.tips_amount),
  }
}

/** Everything a receipt says, but not when it arrived: a re-sent receipt says the same. */
const contents = (r: ReceiptRecord) =>
  JSON.stringify([
    r.transactionId,
    r.accountId,
    r.sourceId,
    r.placeId,
    r.placeName,
    r.paymentMethod,
    r.timestamp,
    r.total,
    r.nds,
    r.tips,
    r.items.map((item) => [item.productId, item.category, item.quantity, item.price]),
  ])

export interface ReceiptOutcome {
  readonly status: 'accepted' | 'duplicate'
  readonly position: number
  /** The receipt as the log holds it (for a duplicate, as first received). */
  readonly receipt: ReceiptRecord
}

/**
 * Appends a receipt to its source's telemetry stream with `transaction_id` as the record id,
 * so the log's per-stream id index makes a re-send (even a concurrent one) a duplicate
 * atomically. A duplicate with other contents is not a re-send: 409, naming transaction_id.
 */
export async function appendReceipt(
  telemetry: TelemetryLog,
  source: Source,
  input: ReceiptInput,
): Promise<ReceiptOutcome> {
  const receipt = toReceiptRecord(source, input, Date.now())
  const stream = telemetryStream(source.sourceId)
  const [outcome] = await telemetry.appendEvents([
    {
      stream,
      id: receipt.transactionId,
      type: RECEIPT_RECEIVED,
      data: receipt,
    },
  ])
  if (!outcome) throw new Error('the log answered no outcome for one record')
  if (outcome.status === 'appended') return { status: 'accepted', position: outcome.position, receipt }
  const [stored] = await telemetry.readPartition(telemetry.partitionOf(stream), outcome.position, 1)
  const earlier =
    stored?.position === outcome.position && stored.type === RECEIPT_RECEIVED
      ? ReceiptRecord.safeParse(stored.data)
      : null
  if (!earlier?.success || contents(earlier.data) !== contents(receipt)) {
    throw new HourglassError(
      'TRANSACTION_ID_TAKEN',
      `transaction_id: "${receipt.transactionId}" was already received with other contents; a re-sent receipt must be identical`,
      { issues: [{ path: 'transaction_id', message: 'was already received with other contents' }] },
    )
  }
  return { status: 'duplicate', position: outcome.position, receipt: earlier.data }
}
