import { httpTimeoutsOf, openControlStore, openTelemetryLog, type ServiceConfig } from '@hourglass/control'
import { newRegistry, type RunningService, runService, serviceApp } from '@hourglass/server'
import type { Logger } from 'pino'
import { Counter, Gauge, Histogram } from 'prom-client'
import { migrateWarehouse } from './migrations.ts'
import { projections } from './projections.ts'
import { createWarehouseCheckpointStore } from './runtime/checkpointStore.ts'
import { readinessOf, registerProjectionMetrics } from './runtime/projectionHealth.ts'
import { prepareRebuilds } from './runtime/upgrades.ts'
import { createGroupWorker } from './runtime/workers.ts'
import { openWarehouse } from './warehouse/warehouse.ts'
import { warehouseConfigOf } from './warehouse/warehouseSettings.ts'

/** `hourglass project`: one projection worker of the consumer group. */
export async function startProjectService(
  config: ServiceConfig<'project'>,
  logger: Logger,
): Promise<RunningService> {
  const registry = newRegistry('project')
  const log = await openTelemetryLog(config, 'project', logger)
  const warehouse = await openWarehouse(warehouseConfigOf(config))
  await migrateWarehouse(warehouse, logger)
  const records = new Counter({
    name: 'hourglass_projection_records_total',
    help: 'records projected (re-sent ids excluded), by partition',
    labelNames: ['partition'],
    registers: [registry],
  })
  const insertLatency = new Histogram({
    name: 'hourglass_projection_insert_seconds',
    help: 'time to claim, insert and checkpoint one batch',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  })
  const control = await openControlStore(config, 'project', logger)
  const worker = createGroupWorker({
    log,
    group: config.KAFKA_GROUP_ID,
    topic: log.topic,
    sessionTimeoutMs: config.HOURGLASS_KAFKA_SESSION_TIMEOUT_MS,
    warehouse,
    projections,
    logger,
    control: control.control,
    batchSize: config.HOURGLASS_PROJECTION_BATCH_SIZE,
    onBatch: (batch) => {
      records.inc({ partition: String(batch.partition) }, batch.fresh)
      insertLatency.observe(batch.insertMs / 1000)
    },
  })
  new Gauge({
    name: 'hourglass_projection_consumer_lag',
    help: 'records of a partition this worker holds that are not yet in the warehouse',
    labelNames: ['partition'],
    registers: [registry],
    async collect() {
      this.reset()
      const heads = await log.partitionHeads()
      for (const [partition, next] of worker.positions()) {
        this.set({ partition: String(partition) }, Math.max(0, (heads[partition] ?? 0) - next))
      }
    },
  })
  registerProjectionMetrics(registry, () => worker.status())
  const app = await serviceApp(
    logger,
    config,
    httpTimeoutsOf(config),
    registry,
    async () => {
      if (worker.lastError) throw new Error(worker.lastError)
      return { partitions: Object.fromEntries(worker.positions()) }
    },
    { readiness: async () => readinessOf(await worker.status(), { maxLag: config.HOURGLASS_READY_MAX_LAG }) },
  )
  // A projection deployed at a newer version takes over the serving one's checkpoints; the
  // operator's `replay --distributed` builds it beside the serving tables and switches to it.
  const due = await prepareRebuilds({
    warehouse,
    checkpoints: createWarehouseCheckpointStore(warehouse),
    projections,
    partitions: log.partitionCount(),
  })
  for (const projection of due) {
    logger.warn(
      { projection: projection.name, version: projection.version },
      'a rebuild is due: run `hourglass replay --distributed` for this projection to build it beside the serving tables',
    )
  }
  await worker.start()
  return runService(app, config, [worker, log, control, warehouse])
}
