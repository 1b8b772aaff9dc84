/**
 * Summary figures computed from raw readings in plain TypeScript, independently of the
 * warehouse, for tests to check the summaries Hourglass answers against.
 */

export interface ExpectedSummary {
  readonly count: number
  readonly min: number
  readonly max: number
  readonly sum: number
  readonly mean: number
  /** Every value, ascending: the median and p95 are checked against ranks in it. */
  readonly sorted: readonly number[]
}

export function expectedSummary(values: readonly number[]): ExpectedSummary {
  const sorted = [...values].sort((a, b) => a - b)
  let sum = 0
  for (const value of values) sum += value
  return {
    count: values.length,
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
    sum,
    mean: sum / values.length,
    sorted,
  }
}

/** The exact q-quantile with linear interpolation between closest ranks (numpy's default). */
export function exactQuantile(sorted: readonly number[], q: number): number {
  const rank = q * (sorted.length - 1)
  const below = sorted[Math.floor(rank)]!
  const above = sorted[Math.ceil(rank)]!
  return below + (above - below) * (rank - Math.floor(rank))
}

/** The documented tolerance of medians and p95: in rank, 1% of the readings, at least one. */
export const RANK_TOLERANCE = 0.01

/**
 * Whether an estimated q-quantile is within the documented tolerance: between the readings
 * whose ranks are `max(1, ceil(1% × count))` below and above the exact rank, widened by float32
 * rounding (the digests keep float32 centroids).
 */
export function quantileWithinTolerance(sorted: readonly number[], q: number, estimate: number): boolean {
  const n = sorted.length
  const slack = Math.max(1, Math.ceil(RANK_TOLERANCE * n))
  const rank = q * (n - 1)
  const low = sorted[Math.max(0, Math.floor(rank) - slack)]!
  const high = sorted[Math.min(n - 1, Math.ceil(rank) + slack)]!
  const float32 = (x: number) => Math.abs(x) * 2 ** -23
  return estimate >= low - float32(low) && estimate <= high + float32(high)
}

/** Whether two sums of the same floats, added in different orders, agree. */
export const closeTo = (actual: number, expected: number, relative = 1e-9) =>
  Math.abs(actual - expected) <= relative * Math.max(1, Math.abs(expected))
