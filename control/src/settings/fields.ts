import { z } from 'zod'

/**
 * Environment variables that more than one deployable takes (the embedded server and the separate
 * services), defined once: each deployable's schema is made of these and its own.
 */

export const LogLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])

export const Port = (fallback: number) =>
  z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .default(fallback)
    .describe('port of the HTTP server; 0: any free port')

export const commonFields = {
  HOST: z.string().min(1).default('127.0.0.1').describe('interface to listen on (`0.0.0.0` to expose it)'),
  LOG_LEVEL: LogLevel.default('info').describe('pino log level'),
  HOURGLASS_LOG_REQUESTS: z.enum(['true', 'false']).default('false').describe('log every HTTP request'),
}

export const ClickHouseDatabase = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, { error: 'must be letters, digits and underscores' })
  .default('hourglass')
  .describe("database of Hourglass's tables")

export const ClickHouseUser = z.string().optional().describe('ClickHouse user (`default` when unset)')
export const ClickHousePassword = z.string().optional().describe('ClickHouse password (empty when unset)')

export const TokenTtlSeconds = z.coerce
  .number()
  .int()
  .min(60)
  .max(30 * 24 * 3600)
  .default(3600)
  .describe('lifetime of account tokens, in seconds')

/** Most log records per projection batch (one insert per table). */
export const ProjectionBatchSize = z.coerce
  .number()
  .int()
  .min(1)
  .max(100_000)
  .default(10_000)
  .describe('most log records per projection batch (one insert per table)')

/** Records a projection may lag behind the log before `/readyz` reports the process degraded. */
export const ReadyMaxLag = z.coerce
  .number()
  .int()
  .min(0)
  .max(1_000_000_000)
  .default(100_000)
  .describe('records a projection may lag behind the log before /readyz answers 503 (degraded)')

/** Longest wait of an erasure for the projections to report it before it answers 202 (pending). */
export const ErasureWaitMs = (fallback: number) =>
  z.coerce
    .number()
    .int()
    .min(0)
    .max(120_000)
    .default(fallback)
    .describe('longest wait of an erasure for the projections to apply it before it answers 202 (pending)')
