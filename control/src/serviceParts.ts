import { openKafkaTelemetryLog } from '@hourglass/log/kafka'
import {
  createPostgresControlStore,
  openPostgresPool,
  type PostgresControlStore,
  type PostgresPool,
  postgresOptionsOf,
} from '@hourglass/log/postgres'
import type { Logger } from 'pino'
import type { PasswordHasher } from './accounts/passwords.ts'
import { createControlPlane } from './controlPlane.ts'
import type { PersonKeyStore } from './people/personalData.ts'
import { createPostgresPersonKeyStore } from './people/postgresPersonKeyStore.ts'
import { shredErasedPeople } from './people/shredErasedPeople.ts'
import { createStoreRegistry } from './people/storeRegistry.ts'
import { sourceQuotasOf } from './settings/admissionConfig.ts'
import type { ServiceConfig } from './settings/serviceConfig.ts'
import { createApiTokens } from './tokens.ts'

/** What the separate services share of the log and the control plane, by their configuration. */

/** The telemetry topic, as a service of this name sees it (kafkajs's log lines go to the service's log). */
export const openTelemetryLog = (
  config: ServiceConfig<'ingest' | 'project' | 'query'>,
  service: string,
  logger: Logger,
  options: { appendTimeoutMs?: number } = {},
) =>
  openKafkaTelemetryLog({
    brokers: config.KAFKA_BROKERS,
    topic: config.KAFKA_TOPIC,
    partitions: config.KAFKA_PARTITIONS,
    clientId: `hourglass-${service}`,
    ...options,
    onClientLog: ({ level, message }) =>
      logger[level === 'info' ? 'debug' : 'warn']({ kafka: true }, message),
  })

/** The control plane's PostgreSQL as one service process reaches it: one pool, the store over it. */
export interface ControlConnection {
  readonly pool: PostgresPool
  readonly control: PostgresControlStore
  close(): Promise<void>
}

/**
 * Opens the control store in PostgreSQL for one service process (its tables brought up to date
 * first). A connection that breaks while idle is logged; the next operation opens another.
 */
export async function openControlStore(
  config: ServiceConfig<'ingest' | 'project' | 'query'>,
  service: string,
  logger: Logger,
): Promise<ControlConnection> {
  const pool = openPostgresPool({
    ...postgresOptionsOf(config, `hourglass-${service}`),
    onIdleConnectionError: (error) =>
      logger.warn({ err: error }, 'an idle PostgreSQL connection broke (the server may be away)'),
  })
  try {
    const control = await createPostgresControlStore(pool)
    return {
      pool,
      control,
      async close() {
        await control.close()
        await pool.close()
      },
    }
  } catch (error) {
    await pool.close()
    throw error
  }
}

/**
 * The keys of personal data in PostgreSQL, under the process's master key. The keys of people
 * whose erasure is recorded are destroyed before the process serves anything: an erasure records
 * first and destroys the key after, and the process that did it may have died in between.
 */
export async function openPersonKeys(
  config: ServiceConfig<'ingest' | 'query'>,
  { pool, control }: ControlConnection,
): Promise<PersonKeyStore> {
  const keys = await createPostgresPersonKeyStore({
    postgres: pool,
    masterKey: Buffer.from(config.HOURGLASS_MASTER_KEY, 'base64url'),
    ...(config.HOURGLASS_EMAIL_INDEX_KEY
      ? { indexKey: Buffer.from(config.HOURGLASS_EMAIL_INDEX_KEY, 'base64url') }
      : {}),
  })
  try {
    await shredErasedPeople(control, keys)
  } catch (error) {
    await keys.close()
    throw error
  }
  return keys
}

/**
 * The control plane as an ingest or query process sees it: a fold of the control store's
 * records, the stores and their people (personal fields opened with the keys in PostgreSQL),
 * and the tokens of accounts, members and stores (one secret shared by every process).
 */
export async function controlPlaneClient(
  config: ServiceConfig<'ingest' | 'query'>,
  connection: ControlConnection,
  keys: PersonKeyStore,
  passwords: PasswordHasher,
) {
  const { control } = connection
  const controlPlane = createControlPlane(control, { passwords, keys, quotas: sourceQuotasOf(config) })
  const stores = createStoreRegistry({ control, keys })
  await Promise.all([controlPlane.start(), stores.start()])
  const tokens = createApiTokens({
    secret: new TextEncoder().encode(config.HOURGLASS_JWT_SECRET),
    ttlSeconds: config.HOURGLASS_TOKEN_TTL_SECONDS,
    accounts: controlPlane,
    stores,
  })
  return { controlPlane, registry: stores, ...tokens }
}
