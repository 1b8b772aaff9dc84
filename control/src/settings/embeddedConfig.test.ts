import { describe, expect, it } from 'vitest'
import { ConfigError, loadEmbeddedConfig } from './embeddedConfig.ts'

describe('embedded configuration', () => {
  it('bounds the JS heap growth at 50 % unless told otherwise', () => {
    expect(loadEmbeddedConfig({}).heapGrowthPercent).toBe(50)
    expect(loadEmbeddedConfig({ HOURGLASS_HEAP_GROWTH_PERCENT: '0' }).heapGrowthPercent).toBe(0)
    expect(loadEmbeddedConfig({ HOURGLASS_HEAP_GROWTH_PERCENT: '120' }).heapGrowthPercent).toBe(120)
  })

  it('names a wrong variable and the reason', () => {
    let error: unknown
    try {
      loadEmbeddedConfig({ HOURGLASS_HEAP_GROWTH_PERCENT: '-5', PORT: 'eighty' })
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigError)
    const problems = (error as ConfigError).problems
    expect(problems).toHaveLength(2)
    expect(problems.find((p) => p.startsWith('HOURGLASS_HEAP_GROWTH_PERCENT:'))).toMatch(
      />=\s*0|at least|too small/i,
    )
    expect(problems.find((p) => p.startsWith('PORT:'))).toMatch(/number/i)
  })

  it('reads the limits of admission control, and refuses headers that may take longer than the request', () => {
    const { admission, timeouts } = loadEmbeddedConfig({
      HOURGLASS_RATE_LIMIT_SIGN_IN_PER_ADDRESS: '5',
      HOURGLASS_REQUEST_TIMEOUT_MS: '2000',
      HOURGLASS_HEADERS_TIMEOUT_MS: '1500',
    })
    expect(admission.rateLimits).toMatchObject({ windowSeconds: 60, credentialsPerAddress: 5 })
    expect(timeouts).toEqual({ requestMs: 2000, headersMs: 1500, connectionMs: 120_000 })
    expect(admission.passwords).toEqual({ threads: 1, queue: 64 })
    let error: unknown
    try {
      loadEmbeddedConfig({ HOURGLASS_REQUEST_TIMEOUT_MS: '2000', HOURGLASS_HEADERS_TIMEOUT_MS: '3000' })
    } catch (caught) {
      error = caught
    }
    expect((error as ConfigError).problems).toEqual([
      'HOURGLASS_HEADERS_TIMEOUT_MS: must not be longer than HOURGLASS_REQUEST_TIMEOUT_MS',
    ])
  })
})
