import type { TelemetryLog } from '@hourglass/log'
import type { Logger } from 'pino'
import type { Projection } from '../projection.ts'
import type { Warehouse } from '../warehouse/warehouse.ts'
import { createWarehouseCheckpointStore } from './checkpointStore.ts'
import { createClaimLedger } from './claimLedger.ts'
import { recordedCutsOrder, sharedSequenceOrder } from './controlOrder.ts'
import type { ControlRecordSource } from './controlView.ts'
import {
  createProjectionWorker,
  type ProjectionWorker,
  type ProjectionWorkerOptions,
} from './projectionWorker.ts'
import { createSingleWriterLedger } from './singleWriterLedger.ts'

/** The name the embedded log goes by in the runtime's bookkeeping rows, and its one group. */
export const EMBEDDED_LOG = 'embedded'

interface WorkerParts {
  readonly log: TelemetryLog
  readonly control: ControlRecordSource
  readonly warehouse: Warehouse
  readonly projections: readonly Projection[]
  readonly logger: Logger
  readonly batchSize?: number
  readonly rebuildBatchSize?: number
  readonly lingerMs?: number
  readonly onBatch?: ProjectionWorkerOptions['onBatch']
  readonly changes?: ProjectionWorkerOptions['changes']
  readonly hungAfterMs?: number
}

/**
 * The worker of a log with one writer, whose records share one sequence with the control
 * store's (the embedded log): it always holds the log's one partition, marks each batch pending
 * before writing it, and places control records by their positions.
 */
export function createSingleWriterWorker(parts: WorkerParts): ProjectionWorker {
  const checkpoints = createWarehouseCheckpointStore(parts.warehouse)
  return createProjectionWorker({
    ...parts,
    lease: parts.log.lease({ group: EMBEDDED_LOG }),
    checkpoints,
    ledger: createSingleWriterLedger({ warehouse: parts.warehouse, checkpoints, logger: parts.logger }),
    order: sharedSequenceOrder(),
    topic: EMBEDDED_LOG,
  })
}

/**
 * A member of a group of workers sharing a log kept apart from the control store (Kafka's
 * consumer group): it holds the partitions the group gives it, settles batches by claims in the
 * warehouse, and records where control records fall in each partition.
 */
export function createGroupWorker(
  parts: WorkerParts & { readonly group: string; readonly topic: string; readonly sessionTimeoutMs?: number },
): ProjectionWorker {
  const checkpoints = createWarehouseCheckpointStore(parts.warehouse)
  return createProjectionWorker({
    ...parts,
    lease: parts.log.lease({
      group: parts.group,
      ...(parts.sessionTimeoutMs ? { sessionTimeoutMs: parts.sessionTimeoutMs } : {}),
    }),
    checkpoints,
    ledger: createClaimLedger({
      warehouse: parts.warehouse,
      checkpoints,
      group: parts.group,
      topic: parts.topic,
    }),
    order: recordedCutsOrder({
      warehouse: parts.warehouse,
      topic: parts.topic,
      heads: () => parts.log.partitionHeads(),
    }),
  })
}
