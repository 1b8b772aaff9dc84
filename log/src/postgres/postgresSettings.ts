import { z } from 'zod'
import { DEFAULT_SCHEMA, type PostgresOptions, SCHEMA_NAME } from './postgresPool.ts'

/**
 * What a process needs to reach the control plane's PostgreSQL, as fields of a service's
 * configuration schema (`z.object({ ...postgresSettings, ... })`). The URL holds the password:
 * no message repeats it.
 */
export const postgresSettings = {
  HOURGLASS_POSTGRES_URL: z
    .string({
      error:
        'is required: the PostgreSQL of the control plane, e.g. postgres://hourglass:secret@127.0.0.1:5432/hourglass',
    })
    .refine(
      (value) => {
        try {
          const url = new URL(value)
          return (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.pathname.length > 1
        } catch {
          return false
        }
      },
      {
        error:
          'must be a postgres:// URL naming a database, e.g. postgres://hourglass@127.0.0.1:5432/hourglass',
      },
    )
    .describe(
      'the PostgreSQL of the control plane, e.g. `postgres://hourglass:secret@127.0.0.1:5432/hourglass`',
    ),
  HOURGLASS_POSTGRES_SCHEMA: z
    .string()
    .regex(SCHEMA_NAME, {
      error: 'must be lower-case letters, digits and underscores (at most 63), starting with a letter or _',
    })
    .default(DEFAULT_SCHEMA)
    .describe("the schema of Hourglass's tables"),
  /** Connections each process opens at most. */
  HOURGLASS_POSTGRES_POOL_SIZE: z.coerce
    .number({ error: 'must be a whole number from 1 to 100' })
    .int({ error: 'must be a whole number from 1 to 100' })
    .min(1, { error: 'must be a whole number from 1 to 100' })
    .max(100, { error: 'must be a whole number from 1 to 100' })
    .default(10)
    .describe('connections each process opens at most'),
}

export type PostgresSettings = z.infer<z.ZodObject<typeof postgresSettings>>

/** The pool's options from a parsed configuration. */
export const postgresOptionsOf = (settings: PostgresSettings, applicationName?: string): PostgresOptions => ({
  url: settings.HOURGLASS_POSTGRES_URL,
  schema: settings.HOURGLASS_POSTGRES_SCHEMA,
  poolSize: settings.HOURGLASS_POSTGRES_POOL_SIZE,
  ...(applicationName ? { applicationName } : {}),
})
