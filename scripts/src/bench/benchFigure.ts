import type { EmbeddedRuntime } from '../embeddedRuntime.ts'

/** One measured figure, printed in the bench table. */
export interface BenchFigure {
  readonly phase: string
  readonly name: string
  readonly value: number
  readonly unit: string
  /** e.g. "≥ 0.5× baseline"; printed beside the figure. */
  readonly goal?: string
  /** Whether the figure meets its goal, when it has one. */
  readonly meets?: boolean
}

/**
 * A feature's bench phase: runs against a live embedded Hourglass (listening on `runtime.url`)
 * and returns its figures. Phases report progress on stderr.
 */
export type BenchPhase = (runtime: EmbeddedRuntime) => Promise<BenchFigure[]>

/** Makes the figures of one phase: `figure(name, value, unit, { goal, meets })`. */
export const phaseFigures =
  (phase: string) =>
  (name: string, value: number, unit: string, extra: Partial<BenchFigure> = {}): BenchFigure => ({
    phase,
    name,
    value,
    unit,
    ...extra,
  })
