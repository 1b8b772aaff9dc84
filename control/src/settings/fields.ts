import { z } from 'zod'

/**
 * Environment variables that more than one deployable takes (the embedded server and the separate
 * services), defined once: each deployable's schema is made of these and its own.
 */

export const LogLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])

export const Port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback)

export const commonFields = {
  HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: LogLevel.default('info'),
  HOURGLASS_LOG_REQUESTS: z.enum(['true', 'false']).default('false'),
}

export const ClickHouseDatabase = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, { error: 'must be letters, digits and underscores' })
  .default('hourglass')

export const TokenTtlSeconds = z.coerce
  .number()
  .int()
  .min(60)
  .max(30 * 24 * 3600)
  .default(3600)

/** Most log records per projection batch (one insert per table). */
export const ProjectionBatchSize = z.coerce.number().int().min(1).max(100_000).default(10_000)

/** Records a projection may lag behind the log before `/readyz` reports the process degraded. */
export const ReadyMaxLag = z.coerce
  .number()
  .int()
  .min(0)
  .default(100_000)
  .describe('records a projection may lag behind the log before /readyz answers 503 (degraded)')

/** Longest wait of an erasure for the projections to report it before it answers 202 (pending). */
export const ErasureWaitMs = (fallback: number) =>
  z.coerce.number().int().min(0).max(120_000).default(fallback)
