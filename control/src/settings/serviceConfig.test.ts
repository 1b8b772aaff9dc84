import { describe, expect, it } from 'vitest'
import { ConfigError } from './embeddedConfig.ts'
import { loadServiceConfig } from './serviceConfig.ts'

const secret = 'x'.repeat(32)
const key = Buffer.alloc(32, 7).toString('base64url')
const postgres = 'postgres://hourglass@127.0.0.1:5432/hourglass'

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
    expect(message).toContain('HOURGLASS_POSTGRES_URL: is required')
    expect(message).toContain('HOURGLASS_MASTER_KEY: is required')
    expect(message).toContain('HOURGLASS_JWT_SECRET: must be at least 32 characters')
    // Ingest reads the workers' erasure reports from the warehouse.
    expect(message).toContain('CLICKHOUSE_URL')
    // No process reaches a control service: PostgreSQL is the control plane.
    expect(message).not.toContain('HOURGLASS_CONTROL')
  })

  it("requires the master key of ingest and query, a postgres:// URL, and the query service's broker", () => {
    const query = {
      CLICKHOUSE_URL: 'http://ch:8123',
      HOURGLASS_POSTGRES_URL: postgres,
      HOURGLASS_JWT_SECRET: secret,
      KAFKA_BROKERS: '127.0.0.1:9092',
    }
    expect(() => loadServiceConfig('query', { ...query, HOURGLASS_MASTER_KEY: 'too-short' })).toThrow(
      /HOURGLASS_MASTER_KEY: must be 32 random bytes in base64url/,
    )
    expect(() =>
      loadServiceConfig('query', {
        ...query,
        HOURGLASS_MASTER_KEY: key,
        HOURGLASS_POSTGRES_URL: 'http://pg',
      }),
    ).toThrow(/HOURGLASS_POSTGRES_URL: must be a postgres:\/\/ URL/)
    expect(() =>
      loadServiceConfig('query', { ...query, KAFKA_BROKERS: undefined, HOURGLASS_MASTER_KEY: key }),
    ).toThrow(/KAFKA_BROKERS: is required/)
    const config = loadServiceConfig('query', { ...query, HOURGLASS_MASTER_KEY: key })
    expect(config.HOURGLASS_EMAIL_INDEX_KEY).toBeUndefined()
    expect(config.HOURGLASS_POSTGRES_SCHEMA).toBe('hourglass')
  })

  it('reads a valid configuration with its defaults, frozen; a worker needs no master key', () => {
    // Workers read event definitions and erasures from the control store in PostgreSQL.
    expect(() =>
      loadServiceConfig('project', { KAFKA_BROKERS: '127.0.0.1:9092', CLICKHOUSE_URL: 'http://ch:8123' }),
    ).toThrow(/HOURGLASS_POSTGRES_URL: is required/)
    const config = loadServiceConfig('project', {
      KAFKA_BROKERS: '127.0.0.1:9092, kafka-2:9092',
      CLICKHOUSE_URL: 'http://127.0.0.1:8123',
      HOURGLASS_POSTGRES_URL: postgres,
    })
    expect(config).toMatchObject({
      KAFKA_BROKERS: ['127.0.0.1:9092', 'kafka-2:9092'],
      KAFKA_TOPIC: 'analytics-data.raw',
      KAFKA_PARTITIONS: 4,
      KAFKA_GROUP_ID: 'hourglass-projections',
      CLICKHOUSE_DATABASE: 'hourglass',
      HOURGLASS_KAFKA_SESSION_TIMEOUT_MS: 10_000,
      HOURGLASS_POSTGRES_POOL_SIZE: 10,
    })
    expect(config).not.toHaveProperty('HOURGLASS_MASTER_KEY')
    expect(Object.isFrozen(config)).toBe(true)
    expect(() => loadServiceConfig('query', { CLICKHOUSE_URL: 'http://ch:8123' })).toThrow(
      /HOURGLASS_JWT_SECRET/,
    )
  })
})
