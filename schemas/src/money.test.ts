import { describe, expect, it } from 'vitest'
import {
  averageCents,
  centsFromDecimalText,
  centsFromNumber,
  centsFromWarehouse,
  formatCents,
  Money,
} from './money.ts'

describe('money', () => {
  it('reads a JSON number with at most two decimals as exact cents', () => {
    expect(centsFromNumber(10.99)).toBe(1099n)
    expect(centsFromNumber(27.47)).toBe(2747n)
    // A computed double such as 0.1 + 0.2 (0.30000000000000004) is not a two-decimal amount.
    expect(centsFromNumber(0.1 + 0.2)).toBeNull()
    expect(centsFromNumber(3.0)).toBe(300n)
    expect(centsFromNumber(0)).toBe(0n)
    expect(centsFromNumber(9_999_999_999.99)).toBe(999_999_999_999n)
    // 1.005 * 100 is 100.49999999999999 in doubles: the text, not the product, decides.
    expect(centsFromNumber(1.005)).toBeNull()
    expect(centsFromNumber(10.999)).toBeNull()
    expect(centsFromNumber(1e-7)).toBeNull()
    expect(centsFromNumber(-1)).toBeNull()
    expect(centsFromNumber(Number.NaN)).toBeNull()
  })

  it('never drifts: a thousand 0.10s add up to exactly 100.00', () => {
    let cents = 0n
    for (let i = 0; i < 1000; i++) cents += centsFromNumber(0.1)!
    expect(formatCents(cents)).toBe('100.00')
  })

  it('reads decimal text and formats cents with two places', () => {
    expect(centsFromDecimalText('27.47')).toBe(2747n)
    expect(centsFromDecimalText('3')).toBe(300n)
    expect(centsFromDecimalText('3.1')).toBe(310n)
    expect(centsFromDecimalText('3.105')).toBeNull()
    expect(centsFromDecimalText('-3')).toBeNull()
    expect(centsFromDecimalText('1e3')).toBeNull()
    expect(formatCents(2747n)).toBe('27.47')
    expect(formatCents(5n)).toBe('0.05')
    expect(formatCents(-5n)).toBe('-0.05')
    expect(centsFromWarehouse('199999999999999.98')).toBe(19_999_999_999_999_998n)
    expect(centsFromWarehouse('-0.5')).toBe(-50n)
    expect(() => centsFromWarehouse('abc')).toThrow()
  })

  it('averages half up to the cent', () => {
    expect(averageCents(1000n, 3)).toBe(333n)
    expect(averageCents(1001n, 2)).toBe(501n)
    expect(averageCents(1003n, 2)).toBe(502n)
    expect(averageCents(0n, 0)).toBe(0n)
  })

  it.each([
    [-0.01, 'must not be negative'],
    ['-1', 'must not be negative'],
    [10.999, 'at most two decimals'],
    ['10.999', 'at most two decimals'],
    [1e21, 'at most 10000000000.00'],
    ['10000000000.01', 'at most 10000000000.00'],
    [true, 'amount of money'],
    [null, 'amount of money'],
  ])('refuses %s', (value, message) => {
    const parsed = Money.safeParse(value)
    expect(parsed.success).toBe(false)
    expect(parsed.error?.issues[0]?.message).toContain(message)
  })
})
