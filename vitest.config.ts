import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['*/src/**/*.test.ts', 'query/dashboard/src/**/*.test.ts'],
    // Tests against Kafka and separate services run with `npm run test:services` (vitest.services.config.ts).
    exclude: ['**/node_modules/**', '*/src/**/*.services.test.ts'],
    // chDB holds one data directory per process: each test file runs in its own process.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // CI reads the counts from the JSON report; people read the default one.
    reporters: process.env.CI ? ['default', ['json', { outputFile: 'reports/vitest.json' }]] : ['default'],
  },
})
