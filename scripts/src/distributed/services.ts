import { timingSafeEqual } from 'node:crypto'
import { join, resolve } from 'node:path'
import { authenticateUser, createControlPlane, createUserTokens, ingestRoutes } from '@hourglass/ingest'
import {
  combineEventLogs,
  controlOnlyEventLog,
  createEmbeddedEventLog,
  createHttpControlLog,
  type EventLog,
} from '@hourglass/log'
import { openKafkaEventLog } from '@hourglass/log/kafka'
import {
  createPartitionedProjectionWorker,
  createWarehouseCheckpointStore,
  deviceReadingsProjection,
  eventsProjection,
  migrateWarehouse,
  openWarehouse,
  type Projection,
  receiptsProjection,
  storeStatsProjection,
} from '@hourglass/projections'
import { queryRoutes } from '@hourglass/query'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify'
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod'
import type { Logger } from 'pino'
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import { z } from 'zod'
import { registerErrorHandler, registerJsonParser } from '../httpErrors.ts'
import type { ServiceConfig } from './serviceConfig.ts'
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

/**
 * Projections the workers run over the telemetry topic. Per-user statistics and erasures also
 * need control-plane records in the same order as telemetry, which only the embedded log has.
 */
export const partitionedProjections: readonly Projection[] = [
  eventsProjection,
  storeStatsProjection,
  receiptsProjection,
  deviceReadingsProjection,
]

const serviceApp = async (
  logger: Logger,
  config: { HOURGLASS_LOG_REQUESTS: string },
  registry: Registry,
  health: () => Promise<Record<string, unknown>>,
) => {
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: config.HOURGLASS_LOG_REQUESTS !== 'true' }),
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  })
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  registerJsonParser(app)
  registerErrorHandler(app)
  app.get('/healthz', async (_request, reply) => {
    try {
      return { status: 'ok', ...(await health()) }
    } catch (error) {
      return reply.code(503).send({ status: 'unavailable', reason: (error as Error).message })
    }
  })
  app.get('/metrics', async (_request, reply) =>
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

/** `hourglass control`: accounts, sources, tokens and definitions, in one embedded log, for every other process. */
export async function startControlService(
  config: ServiceConfig<'control'>,
  logger: Logger,
): Promise<RunningService> {
  const log = createEmbeddedEventLog({ path: join(resolve(config.HOURGLASS_DATA_DIR), 'control-log') })
  const registry = newRegistry('control')
  const appends = new Counter({
    name: 'hourglass_control_appends_total',
    help: 'control-plane appends, by outcome',
    labelNames: ['outcome'],
    registers: [registry],
  })
  const app = await serviceApp(logger, config, registry, async () => ({ head: await log.head() }))
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
  const Expected = z.union([z.literal('any'), z.literal('no-stream'), z.number().int().min(0)])
  routes.post(
    '/control/streams/:stream',
    {
      schema: {
        params: z.object({ stream: z.string().min(1).max(512) }),
        body: z.object({
          records: z.array(z.object({ type: z.string().min(1), data: z.unknown() })).max(1000),
          expected: Expected,
        }),
      },
    },
    async (request) => {
      const outcome = await log.appendToStream(
        request.params.stream,
        request.body.records,
        request.body.expected,
      )
      appends.inc({ outcome: outcome.status })
      return outcome
    },
  )
  routes.get(
    '/control/streams/:stream',
    {
      schema: {
        params: z.object({ stream: z.string().min(1).max(512) }),
        querystring: z.object({ from: z.coerce.number().int().min(0).default(0) }),
      },
    },
    async (request) => log.readStream(request.params.stream, request.query.from),
  )
  routes.get(
    '/control/records',
    {
      schema: {
        querystring: z.object({
          from: z.coerce.number().int().min(0).default(0),
          limit: z.coerce.number().int().min(1).max(10_000).default(1000),
        }),
      },
    },
    async (request) => log.readControl(request.query.from, request.query.limit),
  )
  const url = await listen(app, config)
  return {
    url,
    async close() {
      await app.close()
      await log.close()
    },
  }
}

/** Counts appends and their latency, for /metrics. */
const measuredLog = (log: EventLog, registry: Registry): EventLog => {
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
  const telemetry = await openKafkaEventLog({
    brokers: config.KAFKA_BROKERS,
    topic: config.KAFKA_TOPIC,
    partitions: config.KAFKA_PARTITIONS,
    appendTimeoutMs: config.HOURGLASS_APPEND_TIMEOUT_MS,
    clientId: 'hourglass-ingest',
    onClientLog: ({ level, message }) =>
      logger[level === 'info' ? 'debug' : 'warn']({ kafka: true }, message),
  })
  const control = createHttpControlLog({
    url: config.HOURGLASS_CONTROL_URL,
    token: config.HOURGLASS_CONTROL_TOKEN,
  })
  const log = measuredLog(combineEventLogs(telemetry, control), registry)
  const controlPlane = createControlPlane(log)
  await controlPlane.start()
  const userTokens = createUserTokens({
    secret: new TextEncoder().encode(config.HOURGLASS_JWT_SECRET),
    issuer: 'hourglass',
    audience: 'hourglass',
    ttlSeconds: config.HOURGLASS_TOKEN_TTL_SECONDS,
  })
  const app = await serviceApp(logger, config, registry, async () => ({
    partitions: (await telemetry.partitionHeads()).length,
  }))
  await app.register(ingestRoutes, { log, controlPlane, userTokens })
  const url = await listen(app, config)
  return {
    url,
    async close() {
      await app.close()
      await log.close()
    },
  }
}

/** `hourglass project`: one projection worker of the consumer group. */
export async function startProjectService(
  config: ServiceConfig<'project'>,
  logger: Logger,
): Promise<RunningService> {
  const registry = newRegistry('project')
  const log = await openKafkaEventLog({
    brokers: config.KAFKA_BROKERS,
    topic: config.KAFKA_TOPIC,
    partitions: config.KAFKA_PARTITIONS,
    clientId: 'hourglass-project',
    onClientLog: ({ level, message }) =>
      logger[level === 'info' ? 'debug' : 'warn']({ kafka: true }, message),
  })
  const warehouse = await openWarehouse({
    url: config.CLICKHOUSE_URL,
    username: config.CLICKHOUSE_USER,
    password: config.CLICKHOUSE_PASSWORD,
    database: config.CLICKHOUSE_DATABASE,
  })
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
  const worker = createPartitionedProjectionWorker({
    lease: log.lease({
      groupId: config.KAFKA_GROUP_ID,
      sessionTimeoutMs: config.HOURGLASS_KAFKA_SESSION_TIMEOUT_MS,
    }),
    warehouse,
    checkpoints: createWarehouseCheckpointStore(warehouse),
    projections: partitionedProjections,
    group: config.KAFKA_GROUP_ID,
    logger,
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
      await warehouse.close()
    },
  }
}

/** `hourglass query`: the read API over the warehouse. */
export async function startQueryService(
  config: ServiceConfig<'query'>,
  logger: Logger,
): Promise<RunningService> {
  const registry = newRegistry('query')
  const warehouse = await openWarehouse({
    url: config.CLICKHOUSE_URL,
    username: config.CLICKHOUSE_USER,
    password: config.CLICKHOUSE_PASSWORD,
    database: config.CLICKHOUSE_DATABASE,
  })
  await migrateWarehouse(warehouse, logger)
  const control = createHttpControlLog({
    url: config.HOURGLASS_CONTROL_URL,
    token: config.HOURGLASS_CONTROL_TOKEN,
  })
  const controlPlane = createControlPlane(controlOnlyEventLog(control))
  await controlPlane.start()
  const userTokens = createUserTokens({
    secret: new TextEncoder().encode(config.HOURGLASS_JWT_SECRET),
    issuer: 'hourglass',
    audience: 'hourglass',
    ttlSeconds: config.HOURGLASS_TOKEN_TTL_SECONDS,
  })
  const app = await serviceApp(logger, config, registry, async () => {
    const ping = await warehouse.client.ping()
    if (!ping.success) throw new Error('the warehouse does not answer')
    return {}
  })
  await app.register(queryRoutes, {
    warehouse,
    authenticate: (request) => authenticateUser(userTokens, request),
    sources: controlPlane,
  })
  const url = await listen(app, config)
  return {
    url,
    async close() {
      await app.close()
      await warehouse.close()
    },
  }
}
