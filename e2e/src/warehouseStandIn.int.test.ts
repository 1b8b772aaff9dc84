import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openWarehouse } from '@hourglass/projections'
import { describeWarehouseContract } from '@hourglass/projections/warehouseContract'
import { startWarehouseStandIn, type WarehouseStandIn } from '@hourglass/scripts/distributed'
import { pino } from 'pino'
import { afterAll, beforeAll } from 'vitest'

let dir: string
let server: WarehouseStandIn
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hourglass-warehouse-server-'))
  server = await startWarehouseStandIn({
    path: dir,
    port: 0,
    database: 'hourglass',
    logger: pino({ level: 'silent' }),
  })
})
afterAll(async () => {
  await server?.close()
  rmSync(dir, { recursive: true, force: true })
})

// The ordinary @clickhouse/client over HTTP, as against a ClickHouse server.
describeWarehouseContract('the chDB stand-in behind ClickHouse HTTP', {
  open: (database) => openWarehouse({ url: server.url, database }),
})
