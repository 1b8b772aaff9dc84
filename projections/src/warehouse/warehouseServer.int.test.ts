import { describe, it } from 'vitest'
import { openWarehouse } from './warehouse.ts'
import { describeWarehouseContract } from './warehouseContract.ts'

/** A ClickHouse server, where one is configured (CLICKHOUSE_URL): the same contract as chDB's. */
const url = process.env.CLICKHOUSE_URL
if (url) {
  describeWarehouseContract(`ClickHouse server at ${url}`, {
    open: (database) =>
      openWarehouse({
        url,
        username: process.env.CLICKHOUSE_USER,
        password: process.env.CLICKHOUSE_PASSWORD,
        database,
      }),
  })
} else {
  describe('warehouse contract: a ClickHouse server', () => {
    it.skip('runs where CLICKHOUSE_URL names a server', () => {})
  })
}
