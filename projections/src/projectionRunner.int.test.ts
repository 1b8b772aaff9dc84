import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEmbeddedLog, type EmbeddedLog } from '@hourglass/log'
import { TELEMETRY_EVENT, type TelemetryEvent, telemetryStream } from '@hourglass/schemas'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createWarehouseCheckpointStore } from './checkpointStore.ts'
import { eventsProjection } from './eventsProjection.ts'
import { migrateWarehouse } from './migrations.ts'
import type { Projection } from './projection.ts'
import { createProjectionRunner } from './projectionRunner.ts'
import { tables } from './tables.ts'
import { openWarehouse, type Warehouse } from './warehouse.ts'

const EVENTS = 3_000
const BATCH_SIZE = 500
const HOUR = 3600_000
const firstHour = Date.UTC(2026, 9, 1)

const root = mkdtempSync(join(tmpdir(), 'hourglass-runner-'))
let log: EmbeddedLog
let warehouse: Warehouse

beforeAll(async () => {
  log = createEmbeddedLog({ path: join(root, 'log') })
  warehouse = await openWarehouse({ database: 'hourglass', embeddedPath: join(root, 'warehouse') })
  await migrateWarehouse(warehouse)
  await log.telemetry.appendEvents(
    Array.from({ length: EVENTS }, (_, i) => {
      const event: TelemetryEvent = {
        id: `evt-${i}`,
        accountId: 'acct-1',
        sourceId: 'src-1',
        name: i % 3 === 0 ? 'purchase' : 'app_open',
        timestamp: firstHour + ((i * 7919) % (5 * HOUR)),
        receivedAt: firstHour + 5 * HOUR,
        attrs: {},
        subject: `user-${i % 25}`,
      }
      return { stream: telemetryStream('src-1'), id: event.id, type: TELEMETRY_EVENT, data: event }
    }),
  )
})

afterAll(async () => {
  await log.close()
  await warehouse.close()
  rmSync(root, { recursive: true, force: true })
})

describe('a projection batch whose attempt failed after some of its inserts', () => {
  it('is repaired on the retry: every event counted once in the raw table and the rollup', async () => {
    // The insert of one batch reaches the warehouse, then the attempt fails (a connection reset
    // after the server had the rows, say): the runner tries the batch again.
    let failures = 0
    const failingOnce: Projection = {
      ...eventsProjection,
      apply: (records, context) =>
        eventsProjection.apply(records, {
          ...context,
          insert: async (table, rows) => {
            await context.insert(table, rows)
            if (records[0]!.position === 2 * BATCH_SIZE && failures === 0) {
              failures++
              throw new Error('connection reset after the insert')
            }
          },
        }),
    }
    const runner = createProjectionRunner({
      log,
      warehouse,
      checkpoints: createWarehouseCheckpointStore(warehouse),
      projection: failingOnce,
      logger: pino({ level: 'silent' }),
      batchSize: BATCH_SIZE,
    })
    await runner.start()
    await runner.caughtUpTo(EVENTS)
    await runner.close()
    expect(failures).toBe(1)
    expect(await runner.status()).toMatchObject({ committed: EVENTS, lastError: null })

    const count = async (query: string) =>
      z
        .array(z.object({ n: z.coerce.number() }))
        .parse(await (await warehouse.client.query({ query, format: 'JSONEachRow' })).json())[0]!.n
    expect(await count(`SELECT count() AS n FROM ${warehouse.table(tables.eventsRaw)}`)).toBe(EVENTS)
    expect(await count(`SELECT sum(events) AS n FROM ${warehouse.table(tables.rollupHourly)}`)).toBe(EVENTS)
    expect(
      await count(
        `SELECT sum(events) AS n FROM ${warehouse.table(tables.rollupHourly)} WHERE name = 'purchase'`,
      ),
    ).toBe(EVENTS / 3)
  })
})
