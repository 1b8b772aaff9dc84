/**
 * A worker and a replay of the events projection in one process (as `hourglass start` runs them
 * in embedded mode), for the rebuild crash test. It resumes any replay a killed run left, then
 * replays the projection until generation <wanted> serves, and exits 0 once caught up.
 *
 *   node --import tsx rebuildProcess.ts <log path> <warehouse path> <wanted generation>
 *
 * Progress goes to stdout, one line each, for the test to time its kills:
 *   `ready`, `stage <building|switching>`, `progress <committed>`, `done <generation>`.
 */
import { createEmbeddedLog } from '@hourglass/log'
import { pino } from 'pino'
import { eventsProjection } from '../eventsProjection.ts'
import { migrateWarehouse } from '../migrations.ts'
import { projectionKey } from '../projection.ts'
import { createWarehouseCheckpointStore } from '../runtime/checkpointStore.ts'
import { loadGenerationStates } from '../runtime/generations.ts'
import { replayProjection } from '../runtime/replay.ts'
import { prepareRebuilds } from '../runtime/upgrades.ts'
import { createSingleWriterWorker, EMBEDDED_LOG } from '../runtime/workers.ts'
import { openWarehouse } from '../warehouse/warehouse.ts'

const [logPath, warehousePath, wantedArg] = process.argv.slice(2)
const wanted = Number(wantedArg)
if (!logPath || !warehousePath || !Number.isInteger(wanted)) {
  process.stderr.write('usage: rebuildProcess.ts <log path> <warehouse path> <wanted generation>\n')
  process.exit(2)
}
const report = (line: string) => process.stdout.write(`${line}\n`)
const logger = pino({ level: 'warn' }, pino.destination(2))
const { telemetry, control } = createEmbeddedLog({ path: logPath })
const warehouse = await openWarehouse({ database: 'hourglass', embeddedPath: warehousePath })
await migrateWarehouse(warehouse, logger)
// What embedded mode does at start: drops what a stopped rebuild left that no replay will.
await prepareRebuilds({
  warehouse,
  checkpoints: createWarehouseCheckpointStore(warehouse),
  projections: [eventsProjection],
  partitions: telemetry.partitionCount(),
})
const worker = createSingleWriterWorker({
  log: telemetry,
  control,
  warehouse,
  projections: [eventsProjection],
  logger,
  batchSize: 500,
})
await worker.start()
report('ready')
const key = projectionKey(eventsProjection)
let lastStage = ''
for (;;) {
  const state = (await loadGenerationStates(warehouse)).get(key)
  const unfinished = state?.stage === 'building' || state?.stage === 'switching'
  if (!unfinished && state?.stage === 'serving' && state.generation >= wanted) break
  await replayProjection({
    warehouse,
    checkpoints: createWarehouseCheckpointStore(warehouse),
    projection: eventsProjection,
    members: () => telemetry.groupMembers(EMBEDDED_LOG),
    heads: () => telemetry.partitionHeads(),
    starts: () => telemetry.partitionStarts(),
    pollMs: 20,
    onProgress: ({ committed }) => {
      if (lastStage !== 'building') report('stage building')
      lastStage = 'building'
      report(`progress ${committed}`)
    },
    onWaiting: () => {
      if (lastStage !== 'switching') report('stage switching')
      lastStage = 'switching'
    },
  })
}
await worker.caughtUp(eventsProjection.name, await telemetry.partitionHeads())
await worker.close()
const { lastError } = worker
await telemetry.close()
await warehouse.close()
report(`done ${wanted}`)
process.exit(lastError === null ? 0 : 1)
