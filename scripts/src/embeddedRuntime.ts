import { mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import {
  createControlPlane,
  createPersonKeyStore,
  createStoreRegistry,
  shredErasedPeople,
} from '@hourglass/ingest'
import { createEmbeddedEventLog, type EmbeddedEventLog } from '@hourglass/log'
import {
  createProjectionRunner,
  createWarehouseCheckpointStore,
  deviceReadingsProjection,
  eventsProjection,
  migrateWarehouse,
  openWarehouse,
  type Projection,
  type ProjectionRunner,
  receiptsProjection,
  storeStatsProjection,
  userStatsProjection,
  type Warehouse,
} from '@hourglass/projections'
import { createReadCache, erasureReportQuery, type ReadCache, runQuery } from '@hourglass/query'
import { telemetryStream } from '@hourglass/schemas'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { createApiTokens } from './apiRoutes.ts'
import { buildApp } from './app.ts'
import { trackAppends } from './appendedPositions.ts'
import type { EmbeddedConfig } from './config.ts'
import { limitHeapGrowth } from './heapPolicy.ts'
import { localSecret } from './localSecrets.ts'

/** Every projection Hourglass runs, by name. */
export const projections: readonly Projection[] = [
  eventsProjection,
  storeStatsProjection,
  receiptsProjection,
  deviceReadingsProjection,
  userStatsProjection,
]

export interface EmbeddedStorage {
  readonly log: EmbeddedEventLog
  readonly warehouse: Warehouse
  readonly runners: ReadonlyMap<string, ProjectionRunner>
  /** Answers of the read routes, which every runner tells of the hours it writes. */
  readonly readCache: ReadCache
  close(): Promise<void>
}

/** Bytes of answers the read cache keeps at most. */
const READ_CACHE_BYTES = 64 * 1024 * 1024

/** The log and the warehouse of a data folder, migrated, with a runner per projection (not started). */
export async function openEmbeddedStorage(config: EmbeddedConfig, logger: Logger): Promise<EmbeddedStorage> {
  const dataDir = resolve(config.dataDir)
  mkdirSync(dataDir, { recursive: true })
  const log = createEmbeddedEventLog({ path: join(dataDir, 'log') })
  let warehouse: Warehouse
  try {
    warehouse = await openWarehouse({ ...config.clickhouse, embeddedPath: join(dataDir, 'warehouse') })
    await migrateWarehouse(warehouse, logger)
  } catch (error) {
    await log.close()
    throw error
  }
  const checkpoints = createWarehouseCheckpointStore(warehouse)
  const readCache = createReadCache({ maxBytes: READ_CACHE_BYTES })
  const runners = new Map(
    projections.map((projection) => [
      projection.name,
      createProjectionRunner({
        log,
        warehouse,
        checkpoints,
        projection,
        logger,
        batchSize: config.projectionBatchSize,
        lingerMs: config.projectionLingerMs,
        changes: readCache,
      }),
    ]),
  )
  return {
    log,
    warehouse,
    runners,
    readCache,
    async close() {
      for (const runner of runners.values()) await runner.close()
      await log.close()
      await warehouse.close()
    },
  }
}

export interface EmbeddedRuntime extends EmbeddedStorage {
  readonly app: FastifyInstance
  /** Where the server listens, e.g. http://127.0.0.1:8080. */
  readonly url: string
}

/** Ingest, projections and query in one process, on one port. */
export async function startEmbedded(
  config: EmbeddedConfig,
  logger: Logger,
  options: { listen?: boolean } = {},
): Promise<EmbeddedRuntime> {
  limitHeapGrowth(config.heapGrowthPercent)
  const storage = await openEmbeddedStorage(config, logger)
  try {
    const controlPlane = createControlPlane(storage.log)
    await controlPlane.start()
    const jwtSecret = new TextEncoder().encode(config.jwtSecret ?? localSecret(config.dataDir, 'jwt-key'))
    const keys = createPersonKeyStore({
      path: join(resolve(config.dataDir), 'keys'),
      masterKey: Buffer.from(config.masterKey ?? localSecret(config.dataDir, 'master-key'), 'base64url'),
      indexKey: Buffer.from(localSecret(config.dataDir, 'email-index-key'), 'base64url'),
    })
    await shredErasedPeople(storage.log, keys)
    const registry = createStoreRegistry({ log: storage.log, keys })
    await registry.start()
    const storeStats = storage.runners.get(storeStatsProjection.name)!
    const { userTokens, memberTokens, access } = createApiTokens({
      secret: jwtSecret,
      ttlSeconds: config.tokenTtlSeconds,
      stores: registry,
    })
    // Reads wait for the projections only where this process has appended what they have not applied.
    const startHead = await storage.log.head()
    const appended = trackAppends(storage.log)
    const app = await buildApp(
      { logger, logRequests: config.logRequests },
      {
        log: appended.log,
        controlPlane,
        userTokens,
        memberTokens,
        warehouse: storage.warehouse,
        readCache: storage.readCache,
        runners: storage.runners,
        adminToken: localSecret(config.dataDir, 'admin-token'),
        registry,
        access,
        // The projection runs in this process: the answer waits until it has applied the erasure.
        erasureReport: async (erasure) => {
          await storeStats.caughtUpTo(erasure.position + 1)
          const [row] = await runQuery(storage.warehouse, erasureReportQuery, erasure)
          return row?.events ?? 0
        },
        projectionProgress: () => Promise.all([...storage.runners.values()].map((runner) => runner.status())),
        awaitProjected: async (projection, sourceId, timeoutMs) => {
          const runner = storage.runners.get(projection)
          if (!runner) return false
          // What the log held at start (a restart's backlog), and what was appended to the source since.
          const target = Math.max(startHead, (appended.positions.last(telemetryStream(sourceId)) ?? -1) + 1)
          const [caughtUp] = await Promise.allSettled([
            runner.caughtUpTo(target, AbortSignal.timeout(timeoutMs)),
          ])
          return caughtUp.status === 'fulfilled'
        },
      },
    )
    for (const runner of storage.runners.values()) await runner.start()
    const url = options.listen === false ? '' : await app.listen({ port: config.port, host: config.host })
    return {
      ...storage,
      app,
      url,
      async close() {
        await app.close()
        await storage.close()
        await keys.close()
      },
    }
  } catch (error) {
    await storage.close()
    throw error
  }
}
