import { describe, expect, it } from 'vitest'
import { ConfigError } from '../config.ts'
import { loadServiceConfig } from './serviceConfig.ts'

const secret = 'x'.repeat(32)

describe('distributed service configuration', () => {
  it('names every missing or wrong variable of a service, with the reason', () => {
    let error: unknown
    try {
      loadServiceConfig('ingest', { KAFKA_BROKERS: 'not a broker list', HOURGLASS_JWT_SECRET: 'short' })
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigError)
    const message = (error as ConfigError).message
    expect(message).toContain('KAFKA_BROKERS: must be comma-separated host:port')
    expect(message).toContain('HOURGLASS_CONTROL_URL')
    expect(message).toContain('HOURGLASS_CONTROL_TOKEN: is required')
    expect(message).toContain('HOURGLASS_JWT_SECRET: must be at least 32 characters')
  })

  it('reads a valid configuration with its defaults, frozen', () => {
    const config = loadServiceConfig('project', {
      KAFKA_BROKERS: '127.0.0.1:9092, kafka-2:9092',
      CLICKHOUSE_URL: 'http://127.0.0.1:8123',
    })
    expect(config).toMatchObject({
      KAFKA_BROKERS: ['127.0.0.1:9092', 'kafka-2:9092'],
      KAFKA_TOPIC: 'analytics-data.raw',
      KAFKA_PARTITIONS: 4,
      KAFKA_GROUP_ID: 'hourglass-projections',
      CLICKHOUSE_DATABASE: 'hourglass',
      HOURGLASS_KAFKA_SESSION_TIMEOUT_MS: 10_000,
    })
    expect(Object.isFrozen(config)).toBe(true)
    expect(() => loadServiceConfig('query', { CLICKHOUSE_URL: 'http://ch:8123' })).toThrow(
      /HOURGLASS_JWT_SECRET/,
    )
    expect(loadServiceConfig('control', { HOURGLASS_CONTROL_TOKEN: secret }).PORT).toBe(8090)
  })
})
