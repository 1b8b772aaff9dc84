import { ConfigError, serviceSchemas } from '@hourglass/control'
import { openKafkaTelemetryLog } from '@hourglass/log/kafka'
import {
  createWarehouseCheckpointStore,
  migrateWarehouse,
  openWarehouse,
  projectionNamed,
  projections,
  type ReplayResult,
  replayProjection,
} from '@hourglass/projections'
import type { Logger } from 'pino'

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
  const projection = projectionNamed(projectionName)
  if (!projection) {
    throw new Error(`name a projection to replay: ${projections.map((p) => p.name).join(', ')}`)
  }
  const parsed = ReplayConfig.safeParse(env)
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`))
  }
  const config = parsed.data
  const log = await openKafkaTelemetryLog({
    brokers: config.KAFKA_BROKERS,
    topic: config.KAFKA_TOPIC,
    partitions: config.KAFKA_PARTITIONS,
    clientId: 'hourglass-replay',
    onClientLog: ({ level, message }) =>
      logger[level === 'info' ? 'debug' : 'warn']({ kafka: true }, message),
  })
  try {
    const warehouse = await openWarehouse({
      url: config.CLICKHOUSE_URL,
      username: config.CLICKHOUSE_USER,
      password: config.CLICKHOUSE_PASSWORD,
      database: config.CLICKHOUSE_DATABASE,
    })
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
