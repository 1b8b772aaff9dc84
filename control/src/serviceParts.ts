import type { ControlStore } from '@hourglass/log'
import { openKafkaTelemetryLog } from '@hourglass/log/kafka'
import type { Logger } from 'pino'
import type { PasswordHasher } from './accounts/passwords.ts'
import { createControlPlane } from './controlPlane.ts'
import { createHttpControlStore } from './controlStoreClient.ts'
import { createHttpPersonKeyStore } from './people/httpPersonKeyStore.ts'
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

/** The control service's store, as every other service reaches it. */
export const controlStoreOf = (config: ServiceConfig<'ingest' | 'project' | 'query'>) =>
  createHttpControlStore({ url: config.HOURGLASS_CONTROL_URL, token: config.HOURGLASS_CONTROL_TOKEN })

/**
 * The control plane as an ingest or query process sees it: a fold of the control service's
 * records, the stores and their people (personal fields opened with keys the control service
 * keeps), and the tokens of accounts, members and stores (one secret shared by every process).
 */
export async function controlPlaneClient(
  config: ServiceConfig<'ingest' | 'query'>,
  control: ControlStore,
  passwords: PasswordHasher,
) {
  const keys = createHttpPersonKeyStore({
    url: config.HOURGLASS_CONTROL_URL,
    token: config.HOURGLASS_CONTROL_TOKEN,
  })
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
