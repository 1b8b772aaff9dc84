import { parseSettings, serviceSchemas } from '@hourglass/control'
import { openKafkaTelemetryLog } from '@hourglass/log/kafka'
import {
  cancelReplay,
  createWarehouseCheckpointStore,
  migrateWarehouse,
  openWarehouse,
  projectionNamed,
  projections,
  type ReplayResult,
  replayProjection,
} from '@hourglass/projections'
import type { Logger } from 'pino'
import type { z } from 'zod'

/** What `hourglass replay` needs in distributed mode: the workers' topic, group and warehouse. */
const ReplayConfig = serviceSchemas.project.pick({
  KAFKA_BROKERS: true,
  KAFKA_TOPIC: true,
  KAFKA_PARTITIONS: true,
  KAFKA_GROUP_ID: true,
  CLICKHOUSE_URL: true,
  CLICKHOUSE_USER: true,
  CLICKHOUSE_PASSWORD: true,
  CLICKHOUSE_DATABASE: true,
})

/** What `hourglass replay --cancel --distributed` needs: the warehouse, where builds are recorded. */
const CancelConfig = ReplayConfig.pick({
  CLICKHOUSE_URL: true,
  CLICKHOUSE_USER: true,
  CLICKHOUSE_PASSWORD: true,
  CLICKHOUSE_DATABASE: true,
})

/** The projection of that name, or an error listing the ones there are. */
function namedProjection(name: string, verb: string) {
  const projection = projectionNamed(name)
  if (!projection)
    throw new Error(`name a projection to ${verb}: ${projections.map((p) => p.name).join(', ')}`)
  return projection
}

/** The warehouse the workers write, from their CLICKHOUSE_* variables. */
const workersWarehouse = (config: z.infer<typeof CancelConfig>) =>
  openWarehouse({
    url: config.CLICKHOUSE_URL,
    username: config.CLICKHOUSE_USER,
    password: config.CLICKHOUSE_PASSWORD,
    database: config.CLICKHOUSE_DATABASE,
  })

export interface DistributedReplayEvents {
  onWaiting?(waiting: { acknowledged: number; members: number }): void
  onProgress?(progress: { committed: number; target: number }): void
}

/**
 * `hourglass replay --distributed <projection>`: rebuilds a projection that the
 * `hourglass project` workers run, from offset 0 of every partition, through those workers
 * (see replayPartitionedProjection for the protocol). Needs the workers' variables:
 * KAFKA_BROKERS, KAFKA_TOPIC, KAFKA_GROUP_ID and the CLICKHOUSE_* ones.
 */
export async function replayDistributed(
  projectionName: string,
  env: Record<string, string | undefined>,
  logger: Logger,
  events: DistributedReplayEvents = {},
): Promise<ReplayResult> {
  const projection = namedProjection(projectionName, 'replay')
  const config = parseSettings(ReplayConfig, env)
  const log = await openKafkaTelemetryLog({
    brokers: config.KAFKA_BROKERS,
    topic: config.KAFKA_TOPIC,
    partitions: config.KAFKA_PARTITIONS,
    clientId: 'hourglass-replay',
    onClientLog: ({ level, message }) =>
      logger[level === 'info' ? 'debug' : 'warn']({ kafka: true }, message),
  })
  try {
    const warehouse = await workersWarehouse(config)
    try {
      await migrateWarehouse(warehouse, logger)
      return await replayProjection({
        warehouse,
        checkpoints: createWarehouseCheckpointStore(warehouse),
        projection,
        members: () => log.groupMembers(config.KAFKA_GROUP_ID),
        heads: () => log.partitionHeads(),
        starts: () => log.partitionStarts(),
        ...events,
      })
    } finally {
      await warehouse.close()
    }
  } finally {
    await log.close()
  }
}

/**
 * `hourglass replay --cancel --distributed <projection>`: records the projection's build as
 * cancelled in the warehouse. The workers drop its lane and acknowledge; the replay following the
 * build then drops its tables (or the workers' next start does). False when none was building.
 */
export async function cancelDistributed(projectionName: string, env: Record<string, string | undefined>) {
  const projection = namedProjection(projectionName, 'cancel')
  const warehouse = await workersWarehouse(parseSettings(CancelConfig, env))
  try {
    return await cancelReplay(warehouse, projection)
  } finally {
    await warehouse.close()
  }
}
