import { isServiceName, loadServiceConfig, type ServiceName } from '@hourglass/control'
import { startIngestService } from '@hourglass/ingest'
import { isKafkaClientError } from '@hourglass/log/kafka'
import { startProjectService } from '@hourglass/projections'
import { startQueryService } from '@hourglass/query'
import type { RunningService } from '@hourglass/server'
import { pino } from 'pino'
import { stopOnSignals } from '../gracefulStop.ts'

export const distributedCommands = `
Distributed mode (each a separate process, any number of each, configured by environment
variables; every one reads and writes the control plane in PostgreSQL; see docs/distributed.md):
  hourglass ingest                 the write API; events to Kafka (KAFKA_BROKERS, HOURGLASS_POSTGRES_URL)
  hourglass project                a projection worker of the consumer group (KAFKA_BROKERS, CLICKHOUSE_URL)
  hourglass query                  the read API and the dashboard (CLICKHOUSE_URL, HOURGLASS_POSTGRES_URL)`

export const isDistributedCommand = (command: string): command is ServiceName => isServiceName(command)

/** Runs one service until SIGINT or SIGTERM, then closes it (draining requests and the current batch). */
export async function runService(name: ServiceName, env: Record<string, string | undefined>) {
  const config = loadServiceConfig(name, env)
  const logger = pino({ level: config.LOG_LEVEL, redact: ['req.headers.authorization'] })
  // kafkajs (2.2.4) lets some retried connection failures escape as unhandled rejections while a
  // broker is down. The same failures reach the caller (an append answers 503; a consumer
  // restarts), so these are logged; any other unhandled rejection still stops the process.
  process.on('unhandledRejection', (reason) => {
    if (isKafkaClientError(reason)) {
      logger.warn({ err: reason }, 'Kafka client failure outside a request (the broker may be down)')
      return
    }
    logger.fatal({ err: reason }, 'unhandled rejection')
    process.exit(1)
  })
  let service: RunningService
  switch (name) {
    case 'ingest':
      service = await startIngestService(loadServiceConfig('ingest', env), logger)
      break
    case 'project':
      service = await startProjectService(loadServiceConfig('project', env), logger)
      break
    case 'query':
      service = await startQueryService(loadServiceConfig('query', env), logger)
      break
  }
  logger.info({ service: name, url: service.url }, 'Hourglass service is ready')
  stopOnSignals(logger, () => service.close(), { service: name })
}
