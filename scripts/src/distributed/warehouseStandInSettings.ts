import { ClickHouseDatabase, commonFields, Port } from '@hourglass/control'
import { z } from 'zod'

/** Configuration of `hourglass warehouse`, the chDB stand-in for a ClickHouse server (tests, one machine). */
export const WarehouseStandInSettings = z.object({
  HOST: commonFields.HOST,
  LOG_LEVEL: commonFields.LOG_LEVEL,
  PORT: Port(8123),
  HOURGLASS_DATA_DIR: z
    .string()
    .min(1)
    .default('./data')
    .describe('the folder whose `warehouse/` holds the chDB data'),
  CLICKHOUSE_DATABASE: ClickHouseDatabase,
})
