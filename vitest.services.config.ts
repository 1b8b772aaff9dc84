import { defineConfig } from 'vitest/config'

/**
 * `npm run test:services`: tests against a real Kafka broker and Hourglass's separate services
 * (ingest, projection workers, query). The global setup finds or starts the broker once.
 */
export default defineConfig({
  test: {
    include: ['*/src/**/*.services.test.ts'],
    globalSetup: ['scripts/src/kafka/kafkaGlobalSetup.ts'],
    pool: 'forks',
    // Two cores: the broker, the services and a test file are already more than enough at once.
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 300_000,
    reporters: process.env.CI
      ? ['default', ['json', { outputFile: 'reports/vitest-services.json' }]]
      : ['default'],
  },
})
