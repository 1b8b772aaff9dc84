import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TelemetryRecord } from '@hourglass/log'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { migrateWarehouse } from '../migrations.ts'
import { defineQuery, defineStatement, noParams } from '../warehouse/namedStatements.ts'
import { openWarehouse, type Warehouse } from '../warehouse/warehouse.ts'
import { createWarehouseCheckpointStore } from './checkpointStore.ts'
import { createClaimLedger } from './claimLedger.ts'

/**
 * The claim ledger on its own: what the workers of a group (Kafka's consumer group) agree on
 * through the warehouse alone, whoever settles a batch first, and whatever they re-send.
 */

const root = mkdtempSync(join(tmpdir(), 'hourglass-claims-'))
let warehouse: Warehouse

beforeAll(async () => {
  warehouse = await openWarehouse({ database: 'claims', embeddedPath: join(root, 'warehouse') })
  await migrateWarehouse(warehouse)
})
afterAll(async () => {
  await warehouse.close()
  rmSync(root, { recursive: true, force: true })
})

let topics = 0
/** A worker's ledger of partition 0 of a topic of its own to each case, in group `group`. */
const ledgerOf = (topic: string, group = 'workers') =>
  createClaimLedger({
    warehouse,
    checkpoints: createWarehouseCheckpointStore(warehouse),
    group,
    topic,
  }).open(0)
const freshTopic = () => `topic-${++topics}`

const record = (position: number, stream: string, id: string): TelemetryRecord => ({
  position,
  stream,
  id,
  type: 'telemetry.event',
  data: { n: position },
  recordedAt: 0,
})
const at = (records: readonly TelemetryRecord[]) => records.map((r) => `${r.stream}/${r.id}@${r.position}`)

const LANE = { key: 'counts@v1', generation: 0 }

describe('claim ledger', () => {
  it('given a batch one worker claimed, when other workers settle the same start, then they all get its range and control cut', async () => {
    const topic = freshTopic()
    // A worker that opened the partition before the claim (a zombie) and one that opens it after.
    const stale = await ledgerOf(topic)
    const first = await ledgerOf(topic)
    expect(await first.settle(0, 100, 7, [LANE.key])).toEqual({ from: 0, to: 100, cut: 7 })
    const later = await ledgerOf(topic)
    expect(await later.settle(0, 50, 9, [LANE.key])).toEqual({ from: 0, to: 100, cut: 7 })
    expect(await stale.settle(0, 30, 3, [LANE.key])).toEqual({ from: 0, to: 100, cut: 7 })
    // The next batch starts where the claimed one ends, and is claimed by whoever is first there.
    expect(await later.settle(100, 180, 9, [LANE.key])).toEqual({ from: 100, to: 180, cut: 9 })
    expect(await first.settle(100, 250, 11, [LANE.key])).toEqual({ from: 100, to: 180, cut: 9 })
  })

  it('given claims of one group, when another group settles the same start, then it makes a claim of its own', async () => {
    const topic = freshTopic()
    await (await ledgerOf(topic, 'workers')).settle(0, 100, 7, [LANE.key])
    expect(await (await ledgerOf(topic, 'others')).settle(0, 40, 2, [LANE.key])).toEqual({
      from: 0,
      to: 40,
      cut: 2,
    })
  })

  it('given ids counted by an earlier batch, when they are sent again, then later batches leave them out and a retried batch keeps its own', async () => {
    const topic = freshTopic()
    const ledger = await ledgerOf(topic)
    const firstBatch = [
      record(0, 's1', 'a'),
      record(1, 's1', 'b'),
      record(2, 's1', 'a'),
      record(3, 's2', 'a'),
    ]
    // An id twice in one batch counts once, at its first position; the same id in another stream is another record.
    expect(at(await ledger.fresh({ from: 0, to: 4 }, firstBatch, true))).toEqual([
      's1/a@0',
      's1/b@1',
      's2/a@3',
    ])
    // The same batch again (a retry after a crash) is not refused as its own duplicate.
    expect(at(await ledger.fresh({ from: 0, to: 4 }, firstBatch, true))).toEqual([
      's1/a@0',
      's1/b@1',
      's2/a@3',
    ])
    const secondBatch = [record(4, 's1', 'b'), record(5, 's1', 'c')]
    // Another worker, with nothing in memory, drops what the first batch counted.
    const other = await ledgerOf(topic)
    expect(at(await other.fresh({ from: 4, to: 6 }, secondBatch, true))).toEqual(['s1/c@5'])
    // A lagging lane gets the same records from the same batch.
    expect(at(await other.fresh({ from: 4, to: 6 }, secondBatch, false))).toEqual(['s1/c@5'])
  })

  it("given a lane's batch written, when it is written again after a failure, then its rows are in the warehouse once", async () => {
    const topic = freshTopic()
    const table = `written_${topics}`
    await warehouse.run(
      defineStatement({
        name: 'claims test table',
        kind: 'schema',
        params: noParams,
        sql: (w) => `CREATE TABLE ${w.table(table)} (x UInt32)
                     ENGINE = MergeTree ORDER BY x SETTINGS non_replicated_deduplication_window = 100`,
      }),
      {},
    )
    const writeBatch = async (retry: boolean) =>
      (await ledgerOf(topic)).write(
        LANE,
        { from: 0, to: 2 },
        async (insert) => {
          await insert(table, [{ x: 1 }])
          await insert(table, [{ x: 2 }, { x: 3 }])
        },
        retry,
      )
    await writeBatch(false)
    await writeBatch(true)
    const rows = defineQuery({
      name: 'claims test rows',
      params: noParams,
      row: z.object({ x: z.coerce.number() }),
      sql: (w) => `SELECT x FROM ${w.table(table)} ORDER BY x`,
    })
    expect((await warehouse.select(rows, {})).map((row) => row.x)).toEqual([1, 2, 3])
  })

  it('given a lane advanced past a batch, when a worker opens the partition afresh, then the lane resumes there', async () => {
    const topic = freshTopic()
    const ledger = await ledgerOf(topic)
    expect(await ledger.resume(`${topic}-lane@v1`)).toEqual({ committed: 0, generation: 0 })
    await ledger.advance({ key: `${topic}-lane@v1`, generation: 0 }, 180, false)
    expect(await (await ledgerOf(topic)).resume(`${topic}-lane@v1`)).toEqual({
      committed: 180,
      generation: 0,
    })
  })
})
