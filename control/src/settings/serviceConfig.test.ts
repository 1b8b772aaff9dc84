import { describe, expect, it } from 'vitest'
import { ConfigError } from './embeddedConfig.ts'
import { loadServiceConfig } from './serviceConfig.ts'

const secret = 'x'.repeat(32)
const key = Buffer.alloc(32, 7).toString('base64url')

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
    // Ingest reads the workers' erasure reports from the warehouse.
    expect(message).toContain('CLICKHOUSE_URL')
  })

  it("requires the control service's keys of personal data, and the query service's broker", () => {
    expect(() => loadServiceConfig('control', { HOURGLASS_CONTROL_TOKEN: secret })).toThrow(
      /HOURGLASS_MASTER_KEY: is required[\s\S]*HOURGLASS_EMAIL_INDEX_KEY: is required/,
    )
    expect(() =>
      loadServiceConfig('control', {
        HOURGLASS_CONTROL_TOKEN: secret,
        HOURGLASS_MASTER_KEY: 'too-short',
        HOURGLASS_EMAIL_INDEX_KEY: key,
      }),
    ).toThrow(/HOURGLASS_MASTER_KEY: must be 32 random bytes in base64url/)
    const query = { CLICKHOUSE_URL: 'http://ch:8123', HOURGLASS_CONTROL_URL: 'http://control:8090' }
    expect(() =>
      loadServiceConfig('query', { ...query, HOURGLASS_CONTROL_TOKEN: secret, HOURGLASS_JWT_SECRET: secret }),
    ).toThrow(/KAFKA_BROKERS: is required/)
  })

  it('reads a valid configuration with its defaults, frozen', () => {
    // Workers read event definitions and erasures from the control service.
    expect(() =>
      loadServiceConfig('project', { KAFKA_BROKERS: '127.0.0.1:9092', CLICKHOUSE_URL: 'http://ch:8123' }),
    ).toThrow(/HOURGLASS_CONTROL_URL[\s\S]*HOURGLASS_CONTROL_TOKEN: is required/)
    const config = loadServiceConfig('project', {
      KAFKA_BROKERS: '127.0.0.1:9092, kafka-2:9092',
      CLICKHOUSE_URL: 'http://127.0.0.1:8123',
      HOURGLASS_CONTROL_URL: 'http://control:8090',
      HOURGLASS_CONTROL_TOKEN: secret,
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
    const control = {
      HOURGLASS_CONTROL_TOKEN: secret,
      HOURGLASS_MASTER_KEY: key,
      HOURGLASS_EMAIL_INDEX_KEY: key,
    }
    expect(loadServiceConfig('control', control).PORT).toBe(8090)
  })
})
