import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineQuery, defineStatement, noParams } from './namedStatements.ts'
import { FILE_INSERT_ROWS, openWarehouse } from './warehouse.ts'
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

  it('given two warehouses over one chDB folder, when each loads a batch as a file after both opened, then both hold their rows', async () => {
    const path = join(dir, 'ch')
    const first = await openWarehouse({ database: 'file_inserts_a', embeddedPath: path })
    const second = await openWarehouse({ database: 'file_inserts_b', embeddedPath: path })
    const rows = Array.from({ length: FILE_INSERT_ROWS }, (_, i) => ({ n: i }))
    const count = defineQuery({
      name: 'rows',
      params: noParams,
      row: z.object({ n: z.coerce.number() }),
      sql: (w) => `SELECT count() AS n FROM ${w.table('t')}`,
    })
    for (const warehouse of [first, second]) {
      await warehouse.run(
        defineStatement({
          name: 'table t',
          kind: 'schema',
          params: noParams,
          sql: (w) => `CREATE TABLE ${w.table('t')} (n UInt32) ENGINE = MergeTree ORDER BY n`,
        }),
        {},
      )
    }
    await Promise.all([first.insert('t', rows), second.insert('t', rows)])
    expect((await first.select(count, {}))[0]?.n).toBe(FILE_INSERT_ROWS)
    expect((await second.select(count, {}))[0]?.n).toBe(FILE_INSERT_ROWS)
    await second.close()
    await first.insert('t', rows)
    expect((await first.select(count, {}))[0]?.n).toBe(2 * FILE_INSERT_ROWS)
    await first.close()
  })
})
