/**
 * The chDB stand-in for a ClickHouse server as a process of its own, for the local deployment of
 * the separate services (tests and the bench): chDB holds one data folder per process.
 *
 *   HOURGLASS_DATA_DIR=… PORT=0 node --import tsx warehouseStandInMain.ts
 *
 * It prints `Hourglass service is ready` with its URL (a pino line), as the services do.
 */
import { join, resolve } from 'node:path'
import { pino } from 'pino'
import { startWarehouseStandIn } from './warehouseStandIn.ts'
import { WarehouseStandInSettings } from './warehouseStandInSettings.ts'

const settings = WarehouseStandInSettings.parse(process.env)
const logger = pino({ level: settings.LOG_LEVEL })
const server = await startWarehouseStandIn({
  path: join(resolve(settings.HOURGLASS_DATA_DIR), 'warehouse'),
  host: settings.HOST,
  port: settings.PORT,
  database: settings.CLICKHOUSE_DATABASE,
  logger,
})
logger.info({ service: 'warehouse', url: server.url }, 'Hourglass service is ready')
const stop = async () => {
  await server.close()
  process.exit(0)
}
process.on('SIGINT', () => void stop())
process.on('SIGTERM', () => void stop())
