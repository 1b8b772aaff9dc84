import { CatalogedError } from '@hourglass/schemas'
import type { HttpTimeouts } from '@hourglass/server'
import { z } from 'zod'
import {
  type Admission,
  admissionOf,
  admissionVariables,
  httpTimeoutsOf,
  httpTimeoutVariables,
  timeoutProblems,
} from './admissionConfig.ts'
import {
  ClickHouseDatabase,
  ClickHousePassword,
  ClickHouseUser,
  commonFields,
  ErasureWaitMs,
  type LogLevel,
  Port,
  ProjectionBatchSize,
  ReadyMaxLag,
  TokenTtlSeconds,
} from './fields.ts'

/** Configuration of the embedded deployable (`hourglass start`): environment variables, checked once. */
export const EmbeddedConfigSchema = z.object({
  ...commonFields,
  PORT: Port(8080),
  HOURGLASS_DATA_DIR: z
    .string()
    .min(1)
    .default('./data')
    .describe(
      'the log (`log/`), the embedded warehouse (`warehouse/`), person keys (`keys/`), generated keys (`secrets/`)',
    ),
  HOURGLASS_JWT_SECRET: z
    .string()
    .min(32, { error: 'must be at least 32 characters (when unset, a key is generated in the data folder)' })
    .optional()
    .describe('key of account tokens (32+ characters); unset: generated in `secrets/`'),
  HOURGLASS_MASTER_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64url').length === 32, {
      error: 'must be 32 random bytes in base64url (when unset, a key is generated in the data folder)',
    })
    .optional()
    .describe(
      'wraps the per-person keys of personal data (32 bytes, base64url); unset: generated in `secrets/`',
    ),
  HOURGLASS_TOKEN_TTL_SECONDS: TokenTtlSeconds,
  CLICKHOUSE_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL such as http://localhost:8123' })
    .optional()
    .describe('a ClickHouse server, e.g. `http://localhost:8123`; unset: ClickHouse in-process (chDB)'),
  CLICKHOUSE_USER: ClickHouseUser,
  CLICKHOUSE_PASSWORD: ClickHousePassword,
  CLICKHOUSE_DATABASE: ClickHouseDatabase,
  HOURGLASS_PROJECTION_BATCH_SIZE: ProjectionBatchSize,
  HOURGLASS_PROJECTION_LINGER_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(10_000)
    .default(300)
    .describe('a smaller batch waits until its first record is this many ms old: fewer, larger inserts'),
  HOURGLASS_HEAP_GROWTH_PERCENT: z.coerce
    .number()
    .int()
    .min(0)
    .max(1_000)
    .default(50)
    .describe(
      "how far the JS heap may grow past what is live before V8 collects, in per cent; 0: V8's default",
    ),
  HOURGLASS_ERASURE_WAIT_MS: ErasureWaitMs(30_000),
  HOURGLASS_READY_MAX_LAG: ReadyMaxLag,
  ...httpTimeoutVariables,
  ...admissionVariables,
})

export interface EmbeddedConfig {
  readonly port: number
  readonly host: string
  readonly dataDir: string
  readonly jwtSecret: string | undefined
  /** Wraps the per-person keys of personal data (base64url, 32 bytes). */
  readonly masterKey: string | undefined
  readonly tokenTtlSeconds: number
  readonly clickhouse: {
    readonly url: string | undefined
    readonly username: string | undefined
    readonly password: string | undefined
    readonly database: string
  }
  readonly projectionBatchSize: number
  /** How long a projection holds a small batch to gather more records (see SubscribeOptions.lingerMs). */
  readonly projectionLingerMs: number
  /** How far the JavaScript heap may grow past its live size, in per cent; 0 leaves it to V8 (see heapPolicy.ts). */
  readonly heapGrowthPercent: number
  /** How long an erasure request waits for the projections to apply it before answering 202. */
  readonly erasureWaitMs: number
  /** Records a projection may lag behind the log before /readyz reports degraded. */
  readonly readyMaxLag: number
  readonly logLevel: z.infer<typeof LogLevel>
  readonly logRequests: boolean
  /** How long a client may take to send a request. */
  readonly timeouts: HttpTimeouts
  /** Password hashing threads and rate limits. */
  readonly admission: Admission
}

export class ConfigError extends CatalogedError {
  constructor(readonly problems: string[]) {
    super('INVALID_CONFIGURATION', `invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
  }
}

/** The variables `schema` reads from `env`, or a ConfigError naming each one missing or wrong, with the reason. */
export function parseSettings<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined>,
): z.output<S> {
  const parsed = schema.safeParse(env)
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`))
  }
  return parsed.data
}

/** Reads the configuration from environment variables; a wrong one is named with the reason. */
export function loadEmbeddedConfig(env: Record<string, string | undefined>): EmbeddedConfig {
  const e = parseSettings(EmbeddedConfigSchema, env)
  const problems = timeoutProblems(e)
  if (problems.length > 0) throw new ConfigError(problems)
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    dataDir: e.HOURGLASS_DATA_DIR,
    jwtSecret: e.HOURGLASS_JWT_SECRET,
    masterKey: e.HOURGLASS_MASTER_KEY,
    tokenTtlSeconds: e.HOURGLASS_TOKEN_TTL_SECONDS,
    clickhouse: Object.freeze({
      url: e.CLICKHOUSE_URL,
      username: e.CLICKHOUSE_USER,
      password: e.CLICKHOUSE_PASSWORD,
      database: e.CLICKHOUSE_DATABASE,
    }),
    projectionBatchSize: e.HOURGLASS_PROJECTION_BATCH_SIZE,
    projectionLingerMs: e.HOURGLASS_PROJECTION_LINGER_MS,
    heapGrowthPercent: e.HOURGLASS_HEAP_GROWTH_PERCENT,
    erasureWaitMs: e.HOURGLASS_ERASURE_WAIT_MS,
    readyMaxLag: e.HOURGLASS_READY_MAX_LAG,
    logLevel: e.LOG_LEVEL,
    logRequests: e.HOURGLASS_LOG_REQUESTS === 'true',
    timeouts: httpTimeoutsOf(e),
    admission: admissionOf(e),
  })
}
