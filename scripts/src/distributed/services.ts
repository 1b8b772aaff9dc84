import { timingSafeEqual } from 'node:crypto'
import { join, resolve } from 'node:path'
import {
  createControlPlane,
  createHttpPersonKeyStore,
  createPasswordHasher,
  createPersonKeyStore,
  createStoreRegistry,
  erasedPersonOf,
  type PasswordHasher,
  personKeyRoutes,
  type RateLimits,
  shredErasedPeople,
} from '@hourglass/ingest'
import {
  type ControlStore,
  controlWire,
  createEmbeddedLog,
  createHttpControlStore,
  type TelemetryLog,
} from '@hourglass/log'
import { openKafkaTelemetryLog } from '@hourglass/log/kafka'
import { createGroupWorker, migrateWarehouse, openWarehouse, projections } from '@hourglass/projections'
import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import type { Logger } from 'pino'
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import { z } from 'zod'
import { admissionOf, httpTimeoutsOf } from '../admissionConfig.ts'
import {
  createApiServer,
  createApiTokens,
  registerApiDocs,
  registerReadRoutes,
  registerWriteRoutes,
} from '../apiRoutes.ts'
import { awaitErasureReport, createPartitionedProgress } from './readYourWrites.ts'
import type { ServiceConfig, ServiceName } from './serviceConfig.ts'
import { startWarehouseServer } from './warehouseServer.ts'

/**
 * The separate services of distributed mode. Each has /healthz (200 when it can do its work,
 * 503 with the reason when not) and Prometheus /metrics.
 */

export interface RunningService {
  /** Where it listens, e.g. http://127.0.0.1:8080. */
  readonly url: string
  close(): Promise<void>
}

const serviceApp = async (
  logger: Logger,
  config: ServiceConfig<ServiceName>,
  registry: Registry,
  health: () => Promise<Record<string, unknown>>,
  options: { docs?: boolean; maxParamLength?: number; rateLimits?: RateLimits } = {},
) => {
  const app = await createApiServer({
    logger,
    logRequests: config.HOURGLASS_LOG_REQUESTS === 'true',
    timeouts: httpTimeoutsOf(config),
    ...(options.rateLimits ? { rateLimits: options.rateLimits } : {}),
    ...(options.maxParamLength ? { maxParamLength: options.maxParamLength } : {}),
  })
  // The public services document their own routes at /docs.
  if (options.docs) await registerApiDocs(app)
  app.get('/healthz', { schema: { hide: true } }, async (_request, reply) => {
    try {
      return { status: 'ok', ...(await health()) }
    } catch (error) {
      return reply.code(503).send({ status: 'unavailable', reason: (error as Error).message })
    }
  })
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  )
  return app
}

const newRegistry = (service: string) => {
  const registry = new Registry()
  registry.setDefaultLabels({ service })
  collectDefaultMetrics({ register: registry })
  return registry
}

const listen = async (app: FastifyInstance, config: { HOST: string; PORT: number }) =>
  app.listen({ host: config.HOST, port: config.PORT })

/** `hourglass warehouse`: the chDB warehouse behind a ClickHouse-compatible HTTP endpoint (a stand-in). */
export async function startWarehouseService(
  config: ServiceConfig<'warehouse'>,
  logger: Logger,
): Promise<RunningService> {
  const server = await startWarehouseServer({
    path: join(resolve(config.HOURGLASS_DATA_DIR), 'warehouse'),
    host: config.HOST,
    port: config.PORT,
    database: config.CLICKHOUSE_DATABASE,
    logger,
  })
  return server
}

/**
 * `hourglass control`: accounts, sources, tokens and definitions, in the control store of one
 * embedded log, for every other process; and the keys of personal data (per-person keys under
 * the master key, the e-mail index key), which every ingest process must share and an erasure
 * must destroy once, for all of them. The keys stay beside the control store: one process, one copy.
 */
export async function startControlService(
  config: ServiceConfig<'control'>,
  logger: Logger,
): Promise<RunningService> {
  const dataDir = resolve(config.HOURGLASS_DATA_DIR)
  const log = createEmbeddedLog({ path: join(dataDir, 'control-log') })
  const control = log.control
  const keys = createPersonKeyStore({
    path: join(dataDir, 'keys'),
    masterKey: Buffer.from(config.HOURGLASS_MASTER_KEY, 'base64url'),
    indexKey: Buffer.from(config.HOURGLASS_EMAIL_INDEX_KEY, 'base64url'),
  })
  try {
    await shredErasedPeople(control, keys)
  } catch (error) {
    await keys.close()
    await log.close()
    throw error
  }
  const registry = newRegistry('control')
  const appends = new Counter({
    name: 'hourglass_control_appends_total',
    help: 'control-plane appends, by outcome',
    labelNames: ['outcome'],
    registers: [registry],
  })
  // Stream names are longer than fastify's default limit of a path parameter (a device user's
  // stream holds a source id and a hash), and percent-encoded in the path.
  // The log holds control records only: its head is the control store's.
  const app = await serviceApp(logger, config, registry, async () => ({ head: await log.telemetry.head() }), {
    maxParamLength: 3 * controlWire.streamNameMax,
  })
  const expected = Buffer.from(config.HOURGLASS_CONTROL_TOKEN)
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/control/')) return
    const given = Buffer.from((request.headers.authorization ?? '').replace(/^Bearer /, ''))
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return reply
        .code(401)
        .send({ error: { code: 'UNAUTHENTICATED', message: 'the control token is wrong' } })
    }
  })
  const routes = app.withTypeProvider<ZodTypeProvider>()
  const StreamParams = z.object({ stream: z.string().min(1).max(controlWire.streamNameMax) })
  const Records = z.array(controlWire.record)
  routes.post(
    '/control/streams/:stream',
    {
      schema: {
        params: StreamParams,
        body: z.object({
          records: z
            .array(z.object({ type: z.string().min(1), data: z.unknown() }))
            .max(controlWire.appendMax),
          expected: controlWire.expected,
        }),
        response: { 200: controlWire.appendOutcome },
      },
    },
    async (request) => {
      const outcome = await control.appendToStream(
        request.params.stream,
        request.body.records,
        request.body.expected,
      )
      appends.inc({ outcome: outcome.status })
      // An erasure destroys the person's key here, before anyone hears it was recorded: the
      // ingest process that asked may die before it destroys the key itself.
      if (outcome.status === 'appended') {
        for (const record of request.body.records) {
          const personId = erasedPersonOf(record)
          if (personId !== null) await keys.destroy(personId)
        }
      }
      return outcome
    },
  )
  await app.register(personKeyRoutes, { keys })
  routes.get(
    '/control/streams/:stream',
    {
      schema: {
        params: StreamParams,
        querystring: z.object({ from: z.coerce.number().int().min(0).default(0) }),
        response: { 200: Records },
      },
    },
    async (request) => control.readStream(request.params.stream, request.query.from),
  )
  routes.get(
    '/control/records',
    {
      schema: {
        querystring: z.object({
          from: z.coerce.number().int().min(0).default(0),
          limit: z.coerce.number().int().min(1).max(controlWire.pageMax).default(1000),
        }),
        response: { 200: Records },
      },
    },
    async (request) => control.readAll(request.query.from, request.query.limit),
  )
  const url = await listen(app, config)
  return {
    url,
    async close() {
      await app.close()
      await keys.close()
      await log.close()
    },
  }
}

/** The telemetry topic, as a service of this name sees it (kafkajs's log lines go to the service's log). */
const openTelemetryLog = (
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

/** `hourglass ingest`: the write API; events go to Kafka, control-plane commands to the control service. */
export async function startIngestService(
  config: ServiceConfig<'ingest'>,
  logger: Logger,
): Promise<RunningService> {
  const registry = newRegistry('ingest')
  const telemetry = measuredLog(
    await openTelemetryLog(config, 'ingest', logger, { appendTimeoutMs: config.HOURGLASS_APPEND_TIMEOUT_MS }),
    registry,
  )
  const control = controlStoreOf(config)
  // Only erasure reports are read here; the workers make the tables. Ingest starts, and takes
  // events, while the warehouse is away.
  const warehouse = await openWarehouse({ ...warehouseConfig(config), createDatabase: false })
  const admission = admissionOf(config)
  const app = await serviceApp(
    logger,
    config,
    registry,
    async () => ({ partitions: (await telemetry.partitionHeads()).length }),
    { docs: true, rateLimits: admission.rateLimits },
  )
  const passwords = createPasswordHasher(admission.passwords)
  await registerWriteRoutes(app, {
    telemetry,
    ...(await controlPlaneClient(config, control, passwords)),
    // The store-statistics projection runs in the workers: wait, bounded, for their report.
    erasureReport: (erasure) =>
      awaitErasureReport(warehouse, erasure, { timeoutMs: config.HOURGLASS_ERASURE_WAIT_MS, logger }),
  })
  const url = await listen(app, config)
  return {
    url,
    async close() {
      await app.close()
      await passwords.close()
      await telemetry.close()
      await control.close()
      await warehouse.close()
    },
  }
}

/** The control service's store, as every other service reaches it. */
const controlStoreOf = (config: ServiceConfig<'ingest' | 'project' | 'query'>) =>
  createHttpControlStore({ url: config.HOURGLASS_CONTROL_URL, token: config.HOURGLASS_CONTROL_TOKEN })

const warehouseConfig = (config: ServiceConfig<'ingest' | 'project' | 'query'>) => ({
  url: config.CLICKHOUSE_URL,
  username: config.CLICKHOUSE_USER,
  password: config.CLICKHOUSE_PASSWORD,
  database: config.CLICKHOUSE_DATABASE,
})

/**
 * The control plane as an ingest or query process sees it: a fold of the control service's
 * records, the stores and their people (personal fields opened with keys the control service
 * keeps), and the tokens of accounts, members and stores (one secret shared by every process).
 */
async function controlPlaneClient(
  config: ServiceConfig<'ingest' | 'query'>,
  control: ControlStore,
  passwords: PasswordHasher,
) {
  const controlPlane = createControlPlane(control, { passwords })
  const stores = createStoreRegistry({
    control,
    keys: createHttpPersonKeyStore({
      url: config.HOURGLASS_CONTROL_URL,
      token: config.HOURGLASS_CONTROL_TOKEN,
    }),
  })
  await Promise.all([controlPlane.start(), stores.start()])
  const tokens = createApiTokens({
    secret: new TextEncoder().encode(config.HOURGLASS_JWT_SECRET),
    ttlSeconds: config.HOURGLASS_TOKEN_TTL_SECONDS,
    accounts: controlPlane,
    stores,
  })
  return { controlPlane, registry: stores, ...tokens }
}

/** `hourglass project`: one projection worker of the consumer group. */
export async function startProjectService(
  config: ServiceConfig<'project'>,
  logger: Logger,
): Promise<RunningService> {
  const registry = newRegistry('project')
  const log = await openTelemetryLog(config, 'project', logger)
  const warehouse = await openWarehouse(warehouseConfig(config))
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
  const control = controlStoreOf(config)
  const worker = createGroupWorker({
    log,
    group: config.KAFKA_GROUP_ID,
    topic: log.topic,
    sessionTimeoutMs: config.HOURGLASS_KAFKA_SESSION_TIMEOUT_MS,
    warehouse,
    projections,
    logger,
    control,
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
  const app = await serviceApp(logger, config, registry, async () => {
    if (worker.lastError) throw new Error(worker.lastError)
    return { partitions: Object.fromEntries(worker.positions()) }
  })
  await worker.start()
  const url = await listen(app, config)
  return {
    url,
    async close() {
      await app.close()
      await worker.close()
      await log.close()
      await control.close()
      await warehouse.close()
    },
  }
}

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
  const warehouse = await openWarehouse(warehouseConfig(config))
  await migrateWarehouse(warehouse, logger)
  const telemetry = await openTelemetryLog(config, 'query', logger)
  const control = controlStoreOf(config)
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
    registry,
    async () => {
      const answers = await warehouse.ping()
      if (!answers) throw new Error('the warehouse does not answer')
      return {}
    },
    { docs: true, rateLimits: admission.rateLimits },
  )
  const passwords = createPasswordHasher(admission.passwords)
  await registerReadRoutes(app, {
    warehouse,
    ...(await controlPlaneClient(config, control, passwords)),
    projectionProgress: () => progress.progress(),
    // The workers run in other processes: a read waits until they have applied the whole log.
    awaitProjected: (projection, _sourceId, timeoutMs) => progress.awaitProjected(projection, timeoutMs),
  })
  const url = await listen(app, config)
  return {
    url,
    async close() {
      await app.close()
      await passwords.close()
      await telemetry.close()
      await control.close()
      await warehouse.close()
    },
  }
}
