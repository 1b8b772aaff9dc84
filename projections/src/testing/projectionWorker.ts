/**
 * A projection worker as its own process, for the crash test: it projects the log into the
 * warehouse until it has caught up with the head, then exits 0. The test kills it with
 * SIGKILL at random points, so it must not need a clean shutdown to be correct.
 *
 *   node --import tsx projectionWorker.ts <log path> <warehouse path> <batch size>
 *
 * Progress goes to stdout, one line each, for the test to time its kills:
 *   `ready`               the warehouse is open and migrated
 *   `applied <from> <to>` a batch's inserts have completed (not yet its checkpoint)
 *   `caught-up <head>`    every record before the head is in the warehouse
 * pino writes to stderr, so nothing else reaches stdout.
 */
import { createEmbeddedLog } from '@hourglass/log'
import { pino } from 'pino'
import { eventsProjection } from '../eventsProjection.ts'
import { migrateWarehouse } from '../migrations.ts'
import type { Projection } from '../projection.ts'
import { createSingleWriterWorker } from '../runtime/workers.ts'
import { openWarehouse } from '../warehouse/warehouse.ts'

const WAREHOUSE_DATABASE = 'hourglass'

const [logPath, warehousePath, batchSizeArg] = process.argv.slice(2)
const batchSize = Number(batchSizeArg)
if (!logPath || !warehousePath || !Number.isInteger(batchSize) || batchSize < 1) {
  process.stderr.write('usage: projectionWorker.ts <log path> <warehouse path> <batch size>\n')
  process.exit(2)
}

// Pipes are written synchronously on Linux, so a line printed here is in the pipe before
// the next step starts, and a kill that follows it cannot land before it.
const report = (line: string) => process.stdout.write(`${line}\n`)

/** The events projection, unchanged (same name, version, inserts), reporting each applied batch. */
const reportingProjection: Projection = {
  ...eventsProjection,
  async apply(records, context) {
    await eventsProjection.apply(records, context)
    report(`applied ${records[0]!.position} ${records[records.length - 1]!.position + 1}`)
  },
}

const logger = pino({ level: 'warn' }, pino.destination(2))
const { telemetry, control } = createEmbeddedLog({ path: logPath })
const warehouse = await openWarehouse({ database: WAREHOUSE_DATABASE, embeddedPath: warehousePath })
await migrateWarehouse(warehouse, logger)
report('ready')
const worker = createSingleWriterWorker({
  log: telemetry,
  control,
  warehouse,
  projections: [reportingProjection],
  logger,
  batchSize,
})
await worker.start()
const heads = await telemetry.partitionHeads()
await worker.caughtUp(reportingProjection.name, heads)
await worker.close()
const { lastError } = worker
await telemetry.close()
await warehouse.close()
report(`caught-up ${heads[0]}`)
process.exit(lastError === null ? 0 : 1)
