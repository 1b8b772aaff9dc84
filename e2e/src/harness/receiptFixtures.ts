/**
 * Receipts for tests, and the figures they must add up to, computed here on their own: integer
 * cents in plain numbers (every sum stays far below 2^53), not the code under test.
 */

/** The example receipt of seed 003, as its document gives it. */
export const seedReceipt = () => ({
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

export type SeedShapedReceipt = ReturnType<typeof seedReceipt>

export const CATEGORIES = ['groceries', 'electronics', 'clothing', 'pharmacy', 'books'] as const
const PAYMENT_METHODS = ['credit_card', 'cash', 'sbp'] as const

/** "27.47" for 2747. */
export const money = (cents: number) => `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`
/** The mean rounded half up to the cent, in integer arithmetic. */
export const average = (cents: number, count: number) =>
  count === 0 ? 0 : Math.floor((2 * cents + count) / (2 * count))

/** A deterministic pseudo-random integer in [0, n) for index i and salt s. */
const pick = (i: number, s: number, n: number) => {
  let h = Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(s + 7, 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d)
  return ((h ^ (h >>> 13)) >>> 0) % n
}

export interface GeneratedReceipt {
  /** Index of the place (of `places`) that sends it. */
  readonly place: number
  readonly body: SeedShapedReceipt
  /** What it must count: cents, units per category, purchase hour (epoch ms). */
  readonly hour: number
  readonly totalCents: number
  readonly ndsCents: number
  readonly tipsCents: number
  readonly lines: readonly { category: string; quantity: number; amountCents: number }[]
}

/**
 * `count` receipts spread over `places` and `hours` hours from `base`, 1 to 5 lines each,
 * prices from 0.01 to 999.99 sent as JSON numbers (cents / 100, whose shortest text is exact).
 */
export function generateReceipts(
  prefix: string,
  count: number,
  places: readonly { placeId: string; placeName: string }[],
  base: number,
  hours: number,
): GeneratedReceipt[] {
  return Array.from({ length: count }, (_, i) => {
    const place = pick(i, 1, places.length)
    const hour = base + pick(i, 2, hours) * 3600_000
    const lines = Array.from({ length: 1 + pick(i, 3, 5) }, (_, line) => {
      const priceCents = 1 + pick(i, 10 + line, 99_999)
      const quantity = 1 + pick(i, 20 + line, 4)
      return {
        product_id: `sku-${pick(i, 30 + line, 500)}`,
        quantity,
        price: priceCents / 100,
        category: CATEGORIES[pick(i, 40 + line, CATEGORIES.length)]!,
        priceCents,
      }
    })
    const totalCents = lines.reduce((sum, line) => sum + line.quantity * line.priceCents, 0)
    const ndsCents = Math.floor((totalCents * 20) / 120)
    const tipsCents = pick(i, 4, 3) === 0 ? 0 : pick(i, 5, 50_000)
    const { placeId, placeName } = places[place]!
    return {
      place,
      hour,
      totalCents,
      ndsCents,
      tipsCents,
      lines: lines.map((line) => ({
        category: line.category,
        quantity: line.quantity,
        amountCents: line.quantity * line.priceCents,
      })),
      body: {
        transaction_id: `${prefix}-${i}`,
        // Within the hour, and without a zone half the time, as seed 003 sends it (read as UTC).
        timestamp:
          i % 2 === 0
            ? new Date(hour + pick(i, 6, 3600) * 1000).toISOString()
            : new Date(hour + pick(i, 6, 3600) * 1000).toISOString().slice(0, 19),
        items: lines.map(({ priceCents: _, ...line }) => line),
        total_amount: totalCents / 100,
        nds_amount: ndsCents / 100,
        tips_amount: tipsCents / 100,
        payment_method: PAYMENT_METHODS[pick(i, 7, PAYMENT_METHODS.length)]!,
        place_id: placeId,
        place_name: placeName,
      },
    }
  })
}

export interface Figures {
  purchases: number
  revenue: number
  nds: number
  tips: number
}

export interface ExpectedTotals {
  readonly totals: Figures
  /** By hour (epoch ms). */
  readonly hours: Map<number, Figures>
  /** By category: units and revenue cents. */
  readonly categories: Map<string, { items: number; revenue: number }>
}

const zero = (): Figures => ({ purchases: 0, revenue: 0, nds: 0, tips: 0 })

/** What a set of receipts adds up to: in total, per hour and per category. */
export function expectedTotals(receipts: readonly GeneratedReceipt[]): ExpectedTotals {
  const totals = zero()
  const hours = new Map<number, Figures>()
  const categories = new Map<string, { items: number; revenue: number }>()
  for (const r of receipts) {
    const hour = hours.get(r.hour) ?? zero()
    for (const f of [totals, hour]) {
      f.purchases += 1
      f.revenue += r.totalCents
      f.nds += r.ndsCents
      f.tips += r.tipsCents
    }
    hours.set(r.hour, hour)
    for (const line of r.lines) {
      const c = categories.get(line.category) ?? { items: 0, revenue: 0 }
      c.items += line.quantity
      c.revenue += line.amountCents
      categories.set(line.category, c)
    }
  }
  return { totals, hours, categories }
}

/** Figures as the native API writes them. */
export const nativeFigures = (f: Figures) => ({
  purchases: f.purchases,
  averageReceipt: money(average(f.revenue, f.purchases)),
  revenue: money(f.revenue),
  nds: money(f.nds),
  tips: money(f.tips),
})

/** Figures as the seed 003 compat API writes them. */
export const seedFigures = (f: Figures) => ({
  purchases_count: f.purchases,
  average_check: money(average(f.revenue, f.purchases)),
  total_amount: money(f.revenue),
  nds_amount: money(f.nds),
  tips_amount: money(f.tips),
})
