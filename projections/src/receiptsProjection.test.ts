import type { TelemetryRecord } from '@hourglass/log'
import { RECEIPT_RECEIVED, type ReceiptRecord } from '@hourglass/schemas'
import { describe, expect, it } from 'vitest'
import { InvalidLogRecordError } from './projection.ts'
import { receiptsProjection, toReceiptRow } from './receiptsProjection.ts'
import { tables } from './tables.ts'

const receipt = (overrides: Partial<ReceiptRecord> = {}): ReceiptRecord => ({
  transactionId: 't-1',
  accountId: 'acc-1',
  sourceId: 'src-1',
  placeId: '011',
  placeName: 'Магазин №1',
  paymentMethod: 'credit_card',
  timestamp: Date.UTC(2024, 1, 7, 12, 34, 56),
  receivedAt: Date.UTC(2024, 1, 7, 12, 35),
  items: [
    { productId: 'product_id_1', category: 'groceries', quantity: 2, price: '10.99' },
    { productId: 'product_id_2', category: 'electronics', quantity: 1, price: '5.49' },
  ],
  total: '27.47',
  nds: '2.47',
  tips: '3.00',
  ...overrides,
})

const record = (position: number, data: unknown, type = RECEIPT_RECEIVED): TelemetryRecord => ({
  position,
  stream: 'source-src-1',
  id: `id-${position}`,
  type,
  data,
  recordedAt: 0,
})

/** Applies records and returns what each table would receive. */
const applied = async (records: TelemetryRecord[]) => {
  const inserts = new Map<string, object[]>()
  await receiptsProjection.apply(records, {
    definitionOf: () => undefined,
    insert: async (table, rows) => {
      inserts.set(table, [...(inserts.get(table) ?? []), ...rows])
    },
  })
  return inserts
}

describe('receipts projection', () => {
  it('computes each line amount exactly, up to the largest total a receipt may have', () => {
    expect(toReceiptRow(0, receipt()).amounts).toEqual(['21.98', '5.49'])
    const big = receipt({
      items: [
        { productId: 'p', category: 'c', quantity: 1_000_000, price: '9999.99' },
        { productId: 'q', category: 'c', quantity: 1, price: '10000000000.00' },
        { productId: 'r', category: 'c', quantity: 3, price: '0.10' },
      ],
    })
    expect(toReceiptRow(0, big).amounts).toEqual(['9999990000.00', '10000000000.00', '0.30'])
    const beyond = receipt({
      items: [{ productId: 'q', category: 'c', quantity: 2, price: '10000000000.00' }],
    })
    expect(() => toReceiptRow(7, beyond)).toThrow(InvalidLogRecordError)
  })

  it('writes receipts with their lines and one journal row per account, and skips other records', async () => {
    const inserts = await applied([
      record(10, receipt()),
      record(11, { name: 'view' }, 'telemetry.event'),
      record(12, receipt({ transactionId: 't-2', timestamp: Date.UTC(2024, 1, 8), total: '27.47' })),
      record(13, receipt({ transactionId: 't-3', accountId: 'acc-2' })),
    ])
    expect(inserts.get(tables.receiptsRaw)).toHaveLength(3)
    expect(inserts.get(tables.receiptsRaw)?.[0]).toMatchObject({
      position: 10,
      units: 3,
      total_amount: '27.47',
      product_ids: ['product_id_1', 'product_id_2'],
      categories: ['groceries', 'electronics'],
      quantities: [2, 1],
      prices: ['10.99', '5.49'],
      amounts: ['21.98', '5.49'],
    })
    expect(inserts.get(tables.receiptRuns)).toEqual([
      expect.objectContaining({
        account_id: 'acc-1',
        from_position: 10,
        to_position: 14,
        receipts: 2,
        units: 6,
        revenue: '54.94',
        first_ts: Date.UTC(2024, 1, 7, 12, 34, 56),
        last_ts: Date.UTC(2024, 1, 8),
      }),
      expect.objectContaining({ account_id: 'acc-2', receipts: 1, revenue: '27.47' }),
    ])
  })

  it('writes nothing for a batch without receipts', async () => {
    expect((await applied([record(1, { name: 'view' }, 'telemetry.event')])).size).toBe(0)
  })

  it('refuses a receipt record that does not match its schema rather than guess', async () => {
    await expect(applied([record(5, receipt({ total: '27.471' }))])).rejects.toBeInstanceOf(
      InvalidLogRecordError,
    )
  })
})
