import { describe, expect, it } from 'vitest'
import { ReceiptInput } from './receipts.ts'

/** The example receipt of seed 003. */
const seedReceipt = () => ({
  transaction_id: 'unique_transaction_id',
  timestamp: '2024-02-07T12:34:56',
  items: [
    { product_id: 'product_id_1', quantity: 2, price: 10.99, category: 'groceries' },
    { product_id: 'product_id_2', quantity: 1, price: 5.49, category: 'electronics' },
  ],
  total_amount: 27.47,
  nds_amount: 2.47,
  tips_amount: 3.0,
  payment_method: 'credit_card',
  place_id: '011',
  place_name: 'Магазин №1',
})

const issuesOf = (value: unknown) => {
  const parsed = ReceiptInput.safeParse(value)
  expect(parsed.success).toBe(false)
  return parsed.error!.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }))
}

describe('receipt validation', () => {
  it("accepts seed 003's example, reads its zone-less time as UTC, and drops fields it does not name", () => {
    const parsed = ReceiptInput.parse({ ...seedReceipt(), cashier: 'Ivan' })
    expect(parsed.timestamp).toBe(Date.UTC(2024, 1, 7, 12, 34, 56))
    expect(parsed.total_amount).toBe(2747n)
    expect(parsed.items.map((item) => item.price)).toEqual([1099n, 549n])
    expect(parsed).not.toHaveProperty('cashier')
  })

  it('names a total that does not add up, with both figures', () => {
    expect(issuesOf({ ...seedReceipt(), total_amount: 27.48 })).toEqual([
      { path: 'total_amount', message: 'is 27.48 but the items add up to 27.47 (Σ quantity × price)' },
    ])
  })

  it.each([
    ['a missing transaction_id', { transaction_id: undefined }, 'transaction_id'],
    ['a missing place_id', { place_id: undefined }, 'place_id'],
    ['no items', { items: [] }, 'items'],
    ['a negative quantity', { items: [{ ...seedReceipt().items[0], quantity: -2 }] }, 'items.0.quantity'],
    ['a fractional quantity', { items: [{ ...seedReceipt().items[0], quantity: 1.5 }] }, 'items.0.quantity'],
    ['a three-decimal price', { items: [{ ...seedReceipt().items[0], price: 10.995 }] }, 'items.0.price'],
    ['a negative tip', { tips_amount: -1 }, 'tips_amount'],
    ['a timestamp with no date', { timestamp: '12:34' }, 'timestamp'],
  ])('refuses %s and names the field', (_, change, path) => {
    expect(issuesOf({ ...seedReceipt(), ...change }).map((issue) => issue.path)).toContain(path)
  })
})
