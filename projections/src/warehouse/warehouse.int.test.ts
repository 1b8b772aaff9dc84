import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineQuery, noParams } from './namedStatements.ts'
import { openWarehouse } from './warehouse.ts'
import { describeWarehouseContract } from './warehouseContract.ts'

const dir = mkdtempSync(join(tmpdir(), 'hourglass-warehouse-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describeWarehouseContract('chDB in-process', {
  open: (database) => openWarehouse({ database, embeddedPath: join(dir, 'ch') }),
})

/** A ClickHouse server, where one is configured (CLICKHOUSE_URL): the same contract as chDB's. */
const serverUrl = process.env.CLICKHOUSE_URL
if (serverUrl) {
  describeWarehouseContract(`ClickHouse server at ${serverUrl}`, {
    open: (database) =>
      openWarehouse({
        url: serverUrl,
        username: process.env.CLICKHOUSE_USER,
        password: process.env.CLICKHOUSE_PASSWORD,
        database,
      }),
  })
}

/** A port nothing listens on. */
const closedPort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })

describe('the warehouse at its edge', () => {
  it('refuses a database name that is not a plain identifier', async () => {
    await expect(
      openWarehouse({ database: 'x; DROP TABLE y', embeddedPath: join(dir, 'ch') }),
    ).rejects.toMatchObject({
      code: 'INVALID_DATABASE_NAME',
    })
  })

  it('answers a server that does not answer as unavailable, to be retried', async () => {
    const warehouse = await openWarehouse({
      url: `http://127.0.0.1:${await closedPort()}`,
      database: 'hourglass',
      createDatabase: false,
    })
    const one = defineQuery({
      name: 'one',
      params: noParams,
      row: z.object({ n: z.number() }),
      sql: () => 'SELECT 1 AS n',
    })
    await expect(warehouse.select(one, {})).rejects.toMatchObject({
      code: 'WAREHOUSE_UNAVAILABLE',
      retryable: true,
    })
    expect(await warehouse.ping()).toBe(false)
    await warehouse.close()
  })
})
