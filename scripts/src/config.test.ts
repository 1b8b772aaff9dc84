import { describe, expect, it } from 'vitest'
import { ConfigError, loadEmbeddedConfig } from './config.ts'

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
})
