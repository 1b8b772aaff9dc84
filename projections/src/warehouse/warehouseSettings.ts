import type { WarehouseConfig } from './warehouse.ts'

/** The warehouse a service reaches, from its CLICKHOUSE_* settings. */
export const warehouseConfigOf = (settings: {
  readonly CLICKHOUSE_URL: string
  readonly CLICKHOUSE_USER?: string | undefined
  readonly CLICKHOUSE_PASSWORD?: string | undefined
  readonly CLICKHOUSE_DATABASE: string
}): WarehouseConfig => ({
  url: settings.CLICKHOUSE_URL,
  username: settings.CLICKHOUSE_USER,
  password: settings.CLICKHOUSE_PASSWORD,
  database: settings.CLICKHOUSE_DATABASE,
})
