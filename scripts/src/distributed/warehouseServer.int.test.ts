import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openWarehouse, type Warehouse } from '@hourglass/projections'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startWarehouseServer, type WarehouseServer } from './warehouseServer.ts'

let dir: string
let server: WarehouseServer
let client: Warehouse
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hourglass-warehouse-server-'))
  server = await startWarehouseServer({
    path: dir,
    port: 0,
    database: 'hourglass',
    logger: pino({ level: 'silent' }),
  })
  // The ordinary @clickhouse/client over HTTP, as against a ClickHouse server.
  client = await openWarehouse({ url: server.url, database: 'hourglass' })
  await client.client.command({
    query: `CREATE TABLE hourglass.notes (s String, n UInt32) ENGINE = MergeTree ORDER BY s
            SETTINGS non_replicated_deduplication_window = 100`,
  })
})
afterAll(async () => {
  await client?.close()
  await server?.close()
  rmSync(dir, { recursive: true, force: true })
})

const awkward = "it's a\ttab, a \\ backslash and a 'quote'"

describe('the warehouse stand-in (chDB behind ClickHouse HTTP)', () => {
  it('takes JSONEachRow inserts, and drops a second insert under the same deduplication token', async () => {
    for (let i = 0; i < 2; i++) {
      await client.client.insert({
        table: 'hourglass.notes',
        values: [
          { s: awkward, n: 1 },
          { s: 'plain', n: 2 },
        ],
        format: 'JSONEachRow',
        clickhouse_settings: { insert_deduplicate: 1, insert_deduplication_token: 'batch-1' },
      })
    }
    const result = await client.client.query({
      query: 'SELECT count() AS c FROM hourglass.notes',
      format: 'JSONEachRow',
    })
    // 64-bit integers come as chDB gives them (numbers); Hourglass coerces either form.
    expect((await result.json<{ c: number | string }>()).map((r) => Number(r.c))).toEqual([2])
  })

  it('binds query parameters exactly, in the URL and, when large, in a multipart body', async () => {
    const small = await client.client.query({
      query: 'SELECT n FROM hourglass.notes WHERE s = {s:String} AND n IN {ns:Array(UInt32)}',
      query_params: { s: awkward, ns: [1, 5] },
      format: 'JSONEachRow',
    })
    expect(await small.json()).toEqual([{ n: 1 }])
    const many = [...Array.from({ length: 3000 }, (_, i) => `id-${i}'\\`), awkward]
    const large = await client.client.query({
      query: 'SELECT n FROM hourglass.notes WHERE s IN {many:Array(String)}',
      query_params: { many },
      format: 'JSONEachRow',
      use_multipart_params: true,
    })
    expect(await large.json()).toEqual([{ n: 1 }])
  })

  it("answers a failing statement with ClickHouse's error code", async () => {
    await expect(
      client.client.query({ query: 'SELECT no_such_column FROM hourglass.notes', format: 'JSONEachRow' }),
    ).rejects.toMatchObject({ code: '47' })
    expect((await client.client.ping()).success).toBe(true)
  })
})
