/**
 * A projection worker for the lost-part test, as its own process (chDB opens one data folder
 * per process, and the test changes the folder between two runs).
 *
 *   node --import tsx lostPartWorker.ts <log path> <warehouse path> <batch size> write|finish
 *
 * `write` projects the whole log with merges stopped, so each batch's rows stay in a part of
 * their own, then leaves the last batch pending, as a worker killed right after writing it
 * would. It prints one JSON line: the last batch's range and, per table, the parts it wrote.
 * `finish` starts the projections again, which find that batch pending, and exits once they
 * have caught up. pino writes to stderr, so nothing else reaches stdout.
 */
import { createEmbeddedLog } from '@hourglass/log'
import { pino } from 'pino'
import { z } from 'zod'
import { eventsProjection } from '../eventsProjection.ts'
import { migrateWarehouse } from '../migrations.ts'
import { projectionKey } from '../projection.ts'
import { createWarehouseCheckpointStore } from '../runtime/checkpointStore.ts'
import { createSingleWriterWorker } from '../runtime/workers.ts'
import { tables } from '../tables.ts'
import { userStatsProjection } from '../userStatsProjection.ts'
import { defineStatement, noParams } from '../warehouse/namedStatements.ts'
import { openWarehouse } from '../warehouse/warehouse.ts'

export const LOST_PART_DATABASE = 'hourglass'
const projections = [eventsProjection, userStatsProjection]

const [logPath, warehousePath, batchSizeArg, stage] = process.argv.slice(2)
const batchSize = Number(batchSizeArg)
if (!logPath || !warehousePath || !Number.isInteger(batchSize) || batchSize < 1 || !stage) {
  process.stderr.write('usage: lostPartWorker.ts <log path> <warehouse path> <batch size> write|finish\n')
  process.exit(2)
}

const logger = pino({ level: 'warn' }, pino.destination(2))
const { telemetry: log, control } = createEmbeddedLog({ path: logPath })
const warehouse = await openWarehouse({ database: LOST_PART_DATABASE, embeddedPath: warehousePath })
await migrateWarehouse(warehouse, logger)
const checkpoints = createWarehouseCheckpointStore(warehouse)
const projected = [
  tables.eventsRaw,
  tables.rollupHourly,
  tables.eventDefinitions,
  tables.userStatsHourly,
  tables.userStatsTotal,
]
if (stage === 'write') {
  for (const table of projected) {
    await warehouse.run(
      defineStatement({
        name: 'stop merges',
        kind: 'schema',
        params: noParams,
        sql: (w) => `SYSTEM STOP MERGES ${w.table(table)}`,
      }),
      {},
    )
  }
}

const [head] = (await log.partitionHeads()) as [number]
let last = { from: 0, to: 0 }
const worker = createSingleWriterWorker({
  log,
  control,
  warehouse,
  projections,
  logger,
  batchSize,
  onBatch: ({ from, to }) => {
    last = { from, to }
  },
})
await worker.start()
for (const projection of projections) await worker.caughtUp(projection.name, [head])
await worker.close()

if (stage === 'write') {
  const { from } = last
  for (const projection of projections) {
    // The batch's inserts are in; its commit is not: the checkpoint says it is still pending.
    await warehouse.run(
      defineStatement({
        name: 'forget checkpoints',
        kind: 'mutation',
        params: z.object({ key: z.string() }),
        sql: (w) => `ALTER TABLE ${w.table(tables.checkpoints)} DELETE WHERE projection_name = {key:String}`,
      }),
      { key: projectionKey(projection) },
    )
    await checkpoints.save(
      projectionKey(projection),
      { committed: from, pending: { from, to: head }, generation: 0 },
      0,
    )
  }
  const result = await warehouse.client.query({
    query: `SELECT table, name, path FROM system.parts
            WHERE database = {db:String} AND active AND min_block_number = max_block_number
            ORDER BY table, min_block_number`,
    query_params: { db: LOST_PART_DATABASE },
    format: 'JSONEachRow',
  })
  const parts = z
    .array(z.object({ table: z.string(), name: z.string(), path: z.string() }))
    .parse(await result.json())
  const lastParts: Record<string, string> = {}
  for (const part of parts) lastParts[part.table] = part.path
  process.stdout.write(`${JSON.stringify({ from, to: head, lastParts })}\n`)
}
if (stage === 'finish') {
  const rows = async (query: string) =>
    z
      .array(z.array(z.union([z.string(), z.number()])))
      .parse(await (await warehouse.client.query({ query, format: 'JSONCompactEachRow' })).json())
  const keyed = (found: (string | number)[][]) =>
    found.map((row) => [row.slice(0, -2).join(' '), Number(row.at(-2)), Number(row.at(-1))])
  const [raw] = await rows(`SELECT count(), uniqExact(position) FROM ${warehouse.table(tables.eventsRaw)}`)
  const answers = {
    raw: { rows: Number(raw![0]), positions: Number(raw![1]) },
    rollup: keyed(
      await rows(`SELECT source_id, toUnixTimestamp(hour) AS h, name, sum(events), uniqExactMerge(subjects)
                  FROM ${warehouse.table(tables.rollupHourly)} GROUP BY source_id, h, name
                  ORDER BY concat(source_id, ' ', toString(h), ' ', name)`),
    ),
    userStatsHourly: keyed(
      await rows(`SELECT source_id, subject, stat_key, toUnixTimestamp(hour) AS h, sum(amount), sum(events)
                  FROM ${warehouse.table(tables.userStatsHourly)} GROUP BY source_id, subject, stat_key, h
                  ORDER BY concat(source_id, ' ', subject, ' ', stat_key, ' ', toString(h))`),
    ),
    userStatsTotal: keyed(
      await rows(`SELECT source_id, subject, stat_key, sum(amount), sum(events)
                  FROM ${warehouse.table(tables.userStatsTotal)} GROUP BY source_id, subject, stat_key
                  ORDER BY concat(source_id, ' ', subject, ' ', stat_key)`),
    ),
  }
  process.stdout.write(`${JSON.stringify(answers)}\n`)
}
await log.close()
await warehouse.close()
process.exit(0)
