import {
  admissionOf,
  controlPlaneClient,
  createPasswordHasher,
  httpTimeoutsOf,
  openControlStore,
  openPersonKeys,
  openTelemetryLog,
  registerAdmissionControl,
  type ServiceConfig,
} from '@hourglass/control'
import {
  createPartitionedProgress,
  migrateWarehouse,
  openWarehouse,
  projections,
  warehouseConfigOf,
} from '@hourglass/projections'
import { newRegistry, type RunningService, runService, serviceApp } from '@hourglass/server'
import type { Logger } from 'pino'
import { registerReadRoutes } from './readRoutes.ts'

/**
 * `hourglass query`: the read API over the warehouse, and the dashboard. Reads that wait for
 * their writes (The Eye, Metrica) and the dashboard's lag compare the workers' checkpoints in
 * the warehouse with the heads of the topic's partitions.
 */
export async function startQueryService(
  config: ServiceConfig<'query'>,
  logger: Logger,
): Promise<RunningService> {
  const registry = newRegistry('query')
  const warehouse = await openWarehouse(warehouseConfigOf(config))
  await migrateWarehouse(warehouse, logger)
  const telemetry = await openTelemetryLog(config, 'query', logger)
  const control = await openControlStore(config, 'query', logger)
  const keys = await openPersonKeys(config, control)
  const progress = createPartitionedProgress({
    warehouse,
    projections: projections,
    heads: () => telemetry.partitionHeads(),
    logger,
  })
  const admission = admissionOf(config)
  const app = await serviceApp(
    logger,
    config,
    httpTimeoutsOf(config),
    registry,
    async () => {
      const answers = await warehouse.ping()
      if (!answers) throw new Error('the warehouse does not answer')
      return {}
    },
    { docs: true },
  )
  await registerAdmissionControl(app, admission.rateLimits)
  const passwords = createPasswordHasher(admission.passwords)
  await registerReadRoutes(app, {
    warehouse,
    ...(await controlPlaneClient(config, control, keys, passwords)),
    projectionProgress: () => progress.progress(),
    // The workers run in other processes: a read waits until they have applied the whole log.
    awaitProjected: (projection, _sourceId, timeoutMs) => progress.awaitProjected(projection, timeoutMs),
  })
  return runService(app, config, [passwords, telemetry, keys, control, warehouse])
}
