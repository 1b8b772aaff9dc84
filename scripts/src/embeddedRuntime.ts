import { join, resolve } from 'node:path'
import {
  createApiTokens,
  createControlPlane,
  createPasswordHasher,
  createPersonKeyStore,
  createStoreRegistry,
  type EmbeddedConfig,
  makeDataFolderPrivate,
  shredErasedPeople,
} from '@hourglass/control'
import { type ControlStore, createEmbeddedLog, type EmbeddedTelemetryLog } from '@hourglass/log'
import {
  awaitErasureReport,
  cancelReplay,
  createQuarantineStore,
  createSingleWriterWorker,
  createWarehouseCheckpointStore,
  EMBEDDED_LOG,
  migrateWarehouse,
  openWarehouse,
  type ProjectionWorker,
  prepareRebuilds,
  projectionNamed,
  projections,
  type ReplayResult,
  replayProjection,
  type Warehouse,
} from '@hourglass/projections'
import { createReadCache, type ReadCache } from '@hourglass/query'
import { telemetryStream } from '@hourglass/schemas'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { QuarantineOperations } from './adminRoutes.ts'
import { buildApp } from './app.ts'
import { trackAppends } from './appendedPositions.ts'
import { keepShortLivedObjectsYoung, limitHeapGrowth } from './heapPolicy.ts'
import { localSecret } from './localSecrets.ts'

export interface EmbeddedStorage {
  /** The log's telemetry: one partition, whose positions the projections count in. */
  readonly telemetry: EmbeddedTelemetryLog
  /** The log's control store: its records share the telemetry partition's sequence of positions. */
  readonly control: ControlStore
  readonly warehouse: Warehouse
  /** The one projection worker, which holds the log's one partition. */
  readonly worker: ProjectionWorker
  /** Answers of the read routes, which the worker tells of the hours it writes. */
  readonly readCache: ReadCache
  close(): Promise<void>
}

/** Bytes of answers the read cache keeps at most. */
const READ_CACHE_BYTES = 64 * 1024 * 1024

/** The log and the warehouse of a data folder, migrated, with the projection worker (not started). */
export async function openEmbeddedStorage(config: EmbeddedConfig, logger: Logger): Promise<EmbeddedStorage> {
  const dataDir = resolve(config.dataDir)
  makeDataFolderPrivate(dataDir)
  const log = createEmbeddedLog({ path: join(dataDir, 'log') })
  let warehouse: Warehouse
  try {
    warehouse = await openWarehouse({ ...config.clickhouse, embeddedPath: join(dataDir, 'warehouse') })
    await migrateWarehouse(warehouse, logger)
  } catch (error) {
    await log.close()
    throw error
  }
  const readCache = createReadCache({ maxBytes: READ_CACHE_BYTES })
  const worker = createSingleWriterWorker({
    log: log.telemetry,
    control: log.control,
    warehouse,
    projections,
    logger,
    batchSize: config.projectionBatchSize,
    lingerMs: config.projectionLingerMs,
    changes: readCache,
  })
  return {
    telemetry: log.telemetry,
    control: log.control,
    warehouse,
    worker,
    readCache,
    async close() {
      await worker.close()
      await log.close()
      await warehouse.close()
    },
  }
}

/**
 * Rebuilds a projection of the embedded log from position 0 through its running worker, beside
 * the generation that keeps serving (the protocol of replay.ts), and switches to it once caught up.
 */
export function replayEmbedded(
  storage: Pick<EmbeddedStorage, 'telemetry' | 'warehouse'>,
  name: string,
  onProgress?: (progress: { committed: number; target: number }) => void,
  signal?: AbortSignal,
): Promise<ReplayResult> {
  const projection = projectionNamed(name)
  if (!projection)
    throw new Error(`name a projection to replay: ${projections.map((p) => p.name).join(', ')}`)
  return replayProjection({
    warehouse: storage.warehouse,
    checkpoints: createWarehouseCheckpointStore(storage.warehouse),
    projection,
    members: () => storage.telemetry.groupMembers(EMBEDDED_LOG),
    heads: () => storage.telemetry.partitionHeads(),
    starts: () => storage.telemetry.partitionStarts(),
    ...(onProgress ? { onProgress } : {}),
    ...(signal ? { signal } : {}),
  })
}

/** Abandons a projection's build beside its serving generation (`hourglass replay --cancel`). */
export function cancelEmbedded(storage: Pick<EmbeddedStorage, 'warehouse'>, name: string): Promise<boolean> {
  const projection = projectionNamed(name)
  if (!projection)
    throw new Error(`name a projection to cancel: ${projections.map((p) => p.name).join(', ')}`)
  return cancelReplay(storage.warehouse, projection)
}

/**
 * Finishes a rebuild a stopped process left half-way, or builds a projection deployed at a newer
 * version beside the serving one: the worker serves meanwhile, and the switch happens once caught up.
 */
function rebuildInBackground(
  storage: Pick<EmbeddedStorage, 'telemetry' | 'warehouse'>,
  name: string,
  logger: Logger,
  signal: AbortSignal,
) {
  logger.info({ projection: name }, 'rebuilding beside the serving generation')
  replayEmbedded(storage, name, undefined, signal).then(
    (result) => logger.info({ projection: name, ...result }, 'rebuild finished'),
    (error: unknown) => {
      if (!signal.aborted)
        logger.error({ err: error, projection: name }, 'rebuild failed; it resumes at the next start')
    },
  )
}

/** What an operator may do with the records the projections set aside (the worker re-drives them). */
export function quarantineOperations(
  storage: Pick<EmbeddedStorage, 'warehouse' | 'worker'>,
): QuarantineOperations {
  const store = createQuarantineStore(storage.warehouse)
  return {
    list: (filter) => store.list(filter),
    retry: (request) => storage.worker.redrive(request),
    async drop(filter) {
      const held = await store.list({ ...filter, status: 'held' })
      for (const record of held) await store.update(record, { status: 'dropped' })
      return held.map((record) => ({ ...record, status: 'dropped' as const }))
    },
  }
}

/** Resolves once every projection has applied every record the log holds now. */
export async function caughtUp(storage: Pick<EmbeddedStorage, 'telemetry' | 'worker'>, signal?: AbortSignal) {
  const heads = await storage.telemetry.partitionHeads()
  for (const projection of projections) await storage.worker.caughtUp(projection.name, heads, signal)
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
  keepShortLivedObjectsYoung()
  const storage = await openEmbeddedStorage(config, logger)
  const passwords = createPasswordHasher(config.admission.passwords)
  try {
    const jwtSecret = new TextEncoder().encode(config.jwtSecret ?? localSecret(config.dataDir, 'jwt-key'))
    const keys = createPersonKeyStore({
      path: join(resolve(config.dataDir), 'keys'),
      masterKey: Buffer.from(config.masterKey ?? localSecret(config.dataDir, 'master-key'), 'base64url'),
      indexKey: Buffer.from(localSecret(config.dataDir, 'email-index-key'), 'base64url'),
    })
    const controlPlane = createControlPlane(storage.control, {
      passwords,
      keys,
      quotas: config.admission.quotas,
    })
    await controlPlane.start()
    await shredErasedPeople(storage.control, keys)
    const registry = createStoreRegistry({ control: storage.control, keys })
    await registry.start()
    const { userTokens, memberTokens, access } = createApiTokens({
      secret: jwtSecret,
      ttlSeconds: config.tokenTtlSeconds,
      accounts: controlPlane,
      stores: registry,
    })
    // Reads wait for the projections only where this process has appended what they have not applied.
    const startHead = await storage.telemetry.head()
    const appended = trackAppends(storage.telemetry)
    const app = await buildApp(
      {
        logger,
        logRequests: config.logRequests,
        timeouts: config.timeouts,
        rateLimits: config.admission.rateLimits,
        readyMaxLag: config.readyMaxLag,
      },
      {
        telemetry: appended.log,
        controlPlane,
        userTokens,
        memberTokens,
        warehouse: storage.warehouse,
        readCache: storage.readCache,
        projectionStatus: () => storage.worker.status(),
        replayProjection: (name, onProgress) => replayEmbedded(storage, name, onProgress),
        cancelReplay: (name) => cancelEmbedded(storage, name),
        quarantine: quarantineOperations(storage),
        adminToken: localSecret(config.dataDir, 'admin-token'),
        registry,
        access,
        // The report is the projection's: it is there once every erasing projection applied the erasure.
        erasureReport: (erasure) =>
          awaitErasureReport(storage.warehouse, erasure, { timeoutMs: config.erasureWaitMs, logger }),
        projectionProgress: () => storage.worker.status(),
        awaitProjected: async (projection, sourceId, timeoutMs) => {
          // What the log held at start (a restart's backlog), and what was appended to the source since.
          const target = Math.max(startHead, (appended.positions.last(telemetryStream(sourceId)) ?? -1) + 1)
          // Most reads find nothing to wait for: they then set up no timer (an AbortSignal.timeout per
          // read cost about a tenth of a cached read's CPU).
          if (storage.worker.hasApplied(projection, [target])) return true
          const [caughtUp] = await Promise.allSettled([
            storage.worker.caughtUp(projection, [target], AbortSignal.timeout(timeoutMs)),
          ])
          return caughtUp.status === 'fulfilled'
        },
      },
    )
    const stopping = new AbortController()
    const rebuilds = await prepareRebuilds({
      warehouse: storage.warehouse,
      checkpoints: createWarehouseCheckpointStore(storage.warehouse),
      projections,
      partitions: storage.telemetry.partitionCount(),
    })
    await storage.worker.start()
    for (const projection of rebuilds) rebuildInBackground(storage, projection.name, logger, stopping.signal)
    const url = options.listen === false ? '' : await app.listen({ port: config.port, host: config.host })
    return {
      ...storage,
      app,
      url,
      async close() {
        stopping.abort()
        await app.close()
        await passwords.close()
        await storage.close()
        await keys.close()
      },
    }
  } catch (error) {
    await passwords.close()
    await storage.close()
    throw error
  }
}
