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
import type { TelemetryLog } from '@hourglass/log'
import { awaitErasureReport, openWarehouse, warehouseConfigOf } from '@hourglass/projections'
import { newRegistry, type RunningService, runService, serviceApp } from '@hourglass/server'
import type { Logger } from 'pino'
import { Counter, Histogram, type Registry } from 'prom-client'
import { registerWriteRoutes } from './writeRoutes.ts'

/** Counts appends and their latency, for /metrics. */
const measuredLog = (log: TelemetryLog, registry: Registry): TelemetryLog => {
  const events = new Counter({
    name: 'hourglass_ingest_events_total',
    help: 'telemetry records acknowledged by the log',
    registers: [registry],
  })
  const failures = new Counter({
    name: 'hourglass_ingest_append_failures_total',
    help: 'appends the log refused or did not acknowledge in time (answered 503)',
    registers: [registry],
  })
  const latency = new Histogram({
    name: 'hourglass_ingest_append_seconds',
    help: 'time from append to the log acknowledging it',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  })
  return {
    ...log,
    async appendEvents(records) {
      const stop = latency.startTimer()
      try {
        const outcomes = await log.appendEvents(records)
        events.inc(outcomes.length)
        return outcomes
      } catch (error) {
        failures.inc()
        throw error
      } finally {
        stop()
      }
    },
  }
}

/** `hourglass ingest`: the write API; events go to Kafka, control-plane commands to PostgreSQL. */
export async function startIngestService(
  config: ServiceConfig<'ingest'>,
  logger: Logger,
): Promise<RunningService> {
  const registry = newRegistry('ingest')
  const telemetry = measuredLog(
    await openTelemetryLog(config, 'ingest', logger, { appendTimeoutMs: config.HOURGLASS_APPEND_TIMEOUT_MS }),
    registry,
  )
  const control = await openControlStore(config, 'ingest', logger)
  const keys = await openPersonKeys(config, control)
  // Only erasure reports are read here; the workers make the tables. Ingest starts, and takes
  // events, while the warehouse is away.
  const warehouse = await openWarehouse({ ...warehouseConfigOf(config), createDatabase: false })
  const admission = admissionOf(config)
  const app = await serviceApp(
    logger,
    config,
    httpTimeoutsOf(config),
    registry,
    async () => ({ partitions: (await telemetry.partitionHeads()).length }),
    { docs: true },
  )
  await registerAdmissionControl(app, admission.rateLimits)
  const passwords = createPasswordHasher(admission.passwords)
  await registerWriteRoutes(app, {
    telemetry,
    ...(await controlPlaneClient(config, control, keys, passwords)),
    // The store-statistics projection runs in the workers: wait, bounded, for their report.
    erasureReport: (erasure) =>
      awaitErasureReport(warehouse, erasure, { timeoutMs: config.HOURGLASS_ERASURE_WAIT_MS, logger }),
  })
  return runService(app, config, [passwords, telemetry, keys, control, warehouse])
}
