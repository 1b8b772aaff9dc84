import { postgresSettings } from '@hourglass/log/postgres'
import { z } from 'zod'
import { admissionVariables, httpTimeoutVariables, timeoutProblems } from './admissionConfig.ts'
import { ConfigError, parseSettings } from './embeddedConfig.ts'
import {
  ClickHouseDatabase,
  ClickHousePassword,
  ClickHouseUser,
  commonFields,
  ErasureWaitMs,
  Port,
  ProjectionBatchSize,
  ReadyMaxLag,
  TokenTtlSeconds,
} from './fields.ts'

/**
 * Configuration of the distributed services (`hourglass ingest|project|query`):
 * one zod schema per service over environment variables, parsed once at start, frozen.
 */

const Brokers = z
  .string({ error: 'is required: comma-separated host:port of the Kafka brokers' })
  .transform((value) =>
    value
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
  )
  .refine((list) => list.length > 0 && list.every((b) => /^[^\s:]+:\d+$/.test(b)), {
    error: 'must be comma-separated host:port, e.g. 127.0.0.1:9092',
  })
  .describe('comma-separated host:port of the Kafka brokers')
const Secret = (what: string) =>
  z
    .string({ error: `is required: ${what}` })
    .min(32, { error: `must be at least 32 characters (${what})` })
    .describe(`${what} (32+ characters)`)
/** 32 random bytes in base64url, e.g. from `node -e "console.log(crypto.randomBytes(32).toString('base64url'))"`. */
const Key = (what: string) =>
  z
    .string({ error: `is required: ${what} (32 random bytes in base64url)` })
    .refine((value) => Buffer.from(value, 'base64url').length === 32, {
      error: `must be 32 random bytes in base64url (${what})`,
    })
    .describe(`${what} (32 random bytes, base64url)`)
const HttpUrl = (example: string, meaning: string) =>
  z.url({ protocol: /^https?$/, error: `must be an http(s) URL such as ${example}` }).describe(meaning)

const common = {
  ...commonFields,
  ...httpTimeoutVariables,
}
const kafka = {
  KAFKA_BROKERS: Brokers,
  KAFKA_TOPIC: z.string().min(1).default('analytics-data.raw').describe('the topic of the telemetry log'),
  /** Partitions the topic is created with if it does not exist; an existing topic keeps its own. */
  KAFKA_PARTITIONS: z.coerce
    .number()
    .int()
    .min(1)
    .max(1024)
    .default(4)
    .describe('partitions the topic is created with when Hourglass creates it; do not change it afterwards'),
}
/** The control plane: every service reads and appends its records in PostgreSQL itself. */
const control = postgresSettings
/**
 * The keys of personal data, held by the processes that open or seal people's fields (ingest
 * and query). Projection workers read neither: they are not given the master key.
 */
const personKeys = {
  HOURGLASS_MASTER_KEY: Key(
    'wraps the person keys kept in PostgreSQL; the same in every ingest and query process',
  ),
  HOURGLASS_EMAIL_INDEX_KEY: Key('keys the index of e-mail addresses')
    .optional()
    .describe(
      "an existing deployment's e-mail index key; unset: the one the first process made in PostgreSQL",
    ),
}
const clickhouse = {
  CLICKHOUSE_URL: HttpUrl('http://clickhouse:8123', 'the ClickHouse server, e.g. `http://clickhouse:8123`'),
  CLICKHOUSE_USER: ClickHouseUser,
  CLICKHOUSE_PASSWORD: ClickHousePassword,
  CLICKHOUSE_DATABASE: ClickHouseDatabase,
}
const accounts = {
  HOURGLASS_JWT_SECRET: Secret('the key of account tokens, the same in every ingest and query process'),
  HOURGLASS_TOKEN_TTL_SECONDS: TokenTtlSeconds,
}

export const serviceSchemas = {
  ingest: z.object({
    ...common,
    // Password threads and rate limits, each process its own (see admissionControl.ts).
    ...admissionVariables,
    ...kafka,
    ...control,
    ...personKeys,
    ...accounts,
    // Read only: the erasure reports of the projection workers.
    ...clickhouse,
    PORT: Port(8080),
    /** Longest wait for Kafka to acknowledge an append before the producer gets 503. */
    HOURGLASS_APPEND_TIMEOUT_MS: z.coerce
      .number()
      .int()
      .min(100)
      .max(120_000)
      .default(5000)
      .describe('longest wait, in ms, for Kafka to acknowledge an append before the producer gets 503'),
    HOURGLASS_ERASURE_WAIT_MS: ErasureWaitMs(10_000),
  }),
  project: z.object({
    ...common,
    ...kafka,
    ...clickhouse,
    // Event definitions and erasures, which the projections apply, are control-plane records.
    ...control,
    PORT: Port(9464),
    KAFKA_GROUP_ID: z
      .string()
      .min(1)
      .default('hourglass-projections')
      .describe('the consumer group the projection workers share'),
    HOURGLASS_PROJECTION_BATCH_SIZE: ProjectionBatchSize,
    HOURGLASS_READY_MAX_LAG: ReadyMaxLag,
    /** How long a silent worker keeps its partitions (Kafka's minimum is 6 s). */
    HOURGLASS_KAFKA_SESSION_TIMEOUT_MS: z.coerce
      .number()
      .int()
      .min(6000)
      .max(300_000)
      .default(10_000)
      .describe('how long, in ms, a silent worker keeps its partitions'),
  }),
  // Kafka: the partitions' heads, for the dashboard's lag and for reads that wait for their writes.
  // Device users sign in with their password on its reads: it hashes passwords and limits rates too.
  query: z.object({
    ...common,
    ...control,
    ...personKeys,
    ...clickhouse,
    ...accounts,
    ...kafka,
    ...admissionVariables,
    PORT: Port(8081),
  }),
} as const

export type ServiceName = keyof typeof serviceSchemas
export type ServiceConfig<S extends ServiceName> = Readonly<z.infer<(typeof serviceSchemas)[S]>>

export const isServiceName = (name: string): name is ServiceName => Object.hasOwn(serviceSchemas, name)

/** Reads one service's configuration; every wrong or missing variable is named with the reason. */
export function loadServiceConfig<S extends ServiceName>(
  service: S,
  env: Record<string, string | undefined>,
): ServiceConfig<S> {
  const config = parseSettings(serviceSchemas[service], env) as ServiceConfig<S>
  const problems = timeoutProblems(config)
  if (problems.length > 0) throw new ConfigError(problems)
  return Object.freeze(config)
}
