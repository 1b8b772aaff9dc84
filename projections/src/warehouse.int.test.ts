import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { openWarehouse } from './warehouse.ts'

const dir = mkdtempSync(join(tmpdir(), 'hourglass-warehouse-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('warehouse client', () => {
  it("does not let one request's settings leak into the next (chDB keeps SETs for its session)", async () => {
    const warehouse = await openWarehouse({ database: 'leak_check', embeddedPath: join(dir, 'ch') })
    const { client } = warehouse
    await client.command({
      query: `CREATE TABLE ${warehouse.table('t')} (x UInt32) ENGINE = MergeTree ORDER BY x
              SETTINGS non_replicated_deduplication_window = 100`,
    })
    await client.insert({
      table: warehouse.table('t'),
      values: [{ x: 1 }],
      format: 'JSONEachRow',
      clickhouse_settings: { insert_deduplication_token: 'batch-1' },
    })
    // Without the defaults every request states, these two would reuse 'batch-1' and be dropped.
    await client.insert({ table: warehouse.table('t'), values: [{ x: 2 }], format: 'JSONEachRow' })
    await client.insert({ table: warehouse.table('t'), values: [{ x: 3 }], format: 'JSONEachRow' })
    const result = await client.query({
      query: `SELECT groupArray(x) AS xs FROM ${warehouse.table('t')}`,
      format: 'JSONEachRow',
    })
    const [row] = (await result.json()) as { xs: number[] }[]
    expect([...row!.xs].sort()).toEqual([1, 2, 3])
    await warehouse.close()
  })

  it('refuses a database name that is not a plain identifier', async () => {
    await expect(
      openWarehouse({ database: 'x; DROP TABLE y', embeddedPath: join(dir, 'ch') }),
    ).rejects.toMatchObject({
      code: 'INVALID_DATABASE_NAME',
    })
  })
})
