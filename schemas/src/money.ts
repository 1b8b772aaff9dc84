import { z } from 'zod'

/**
 * Money is counted in integer cents (bigint) and written as decimal text with two places
 * ("27.47"): never as a floating-point sum. The warehouse holds it as Decimal.
 */

/** Largest amount one money field may hold: 10,000,000,000.00, far below Decimal(18,2)'s limit. */
export const MAX_MONEY_CENTS = 10n ** 12n

const DECIMAL_TEXT = /^(\d{1,16})(?:\.(\d{1,2}))?$/

/** Cents of a non-negative decimal text with at most two decimals ("27.47", "3", "3.1"), or null. */
export function centsFromDecimalText(text: string): bigint | null {
  const match = DECIMAL_TEXT.exec(text)
  if (!match) return null
  return BigInt(match[1]!) * 100n + BigInt((match[2] ?? '').padEnd(2, '0'))
}

/**
 * Cents of a JSON number. A JSON number such as 10.99 arrives as the nearest double; its
 * shortest round-trip text (`String(value)`) is the decimal the client wrote (for up to 15
 * significant digits), so "at most two decimals" is checked on that text, exactly, rather
 * than with a tolerance on `value * 100`. Null when it has more than two decimals or is
 * negative, not finite or in exponent form (1e-7, 1e21).
 */
export function centsFromNumber(value: number): bigint | null {
  if (!Number.isFinite(value) || value < 0) return null
  return centsFromDecimalText(String(value))
}

/** "27.47" for 2747n; negative amounts keep their sign ("-0.05"). */
export function formatCents(cents: bigint): string {
  const sign = cents < 0n ? '-' : ''
  const abs = cents < 0n ? -cents : cents
  return `${sign}${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')}`
}

/** Cents of a decimal the warehouse returned as text ("27.47", "3.1", "-0.5", "3"). */
export function centsFromWarehouse(text: string): bigint {
  const negative = text.startsWith('-')
  const cents = centsFromDecimalText(negative ? text.slice(1) : text)
  if (cents === null) throw new TypeError(`"${text}" is not a decimal with at most two places`)
  return negative ? -cents : cents
}

/** Mean of `count` amounts summing to `totalCents`, rounded half up to the cent; 0 when there are none. */
export function averageCents(totalCents: bigint, count: number | bigint): bigint {
  const n = BigInt(count)
  if (n === 0n) return 0n
  return (totalCents * 2n + n) / (2n * n)
}

const MAX_MONEY_TEXT = formatCents(MAX_MONEY_CENTS)

/**
 * An amount of money as a client sends it: a JSON number (27.47) or decimal text ("27.47"),
 * non-negative, with at most two decimals, at most 10,000,000,000.00. Parsed to cents.
 */
export const Money = z
  .union([z.number(), z.string()], {
    error: 'must be an amount of money: a number such as 27.47 or decimal text such as "27.47"',
  })
  .transform((value, ctx) => {
    if (typeof value === 'number' && value < 0) {
      ctx.addIssue({ code: 'custom', message: 'must not be negative' })
      return z.NEVER
    }
    if (typeof value === 'number' && value > Number(MAX_MONEY_CENTS / 100n)) {
      ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_MONEY_TEXT}` })
      return z.NEVER
    }
    const cents = typeof value === 'number' ? centsFromNumber(value) : centsFromDecimalText(value.trim())
    if (cents === null) {
      ctx.addIssue({
        code: 'custom',
        message:
          typeof value === 'string' && value.trim().startsWith('-')
            ? 'must not be negative'
            : 'must be a non-negative amount with at most two decimals',
      })
      return z.NEVER
    }
    if (cents > MAX_MONEY_CENTS) {
      ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_MONEY_TEXT}` })
      return z.NEVER
    }
    return cents
  })

/** Money as the log and the APIs write it: decimal text with exactly two places. */
export const MoneyText = z
  .string()
  .regex(/^\d{1,16}\.\d{2}$/, { error: 'must be decimal text such as "27.47"' })
