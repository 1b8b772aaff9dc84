import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { pollUntil } from './readYourWrites.ts'

const logger = pino({ level: 'silent' })

describe('waiting for the workers, bounded', () => {
  it('gives the first value a check finds', async () => {
    let calls = 0
    const found = await pollUntil(async () => (++calls === 3 ? 'done' : null), {
      timeoutMs: 5000,
      logger,
      what: 'a test',
    })
    expect(found).toBe('done')
    expect(calls).toBe(3)
  })

  it('gives up at the deadline, also when a check never answers or keeps failing', async () => {
    for (const check of [
      () => new Promise<string | null>(() => {}),
      async () => {
        throw new Error('the warehouse is away')
      },
      async () => null,
    ]) {
      const started = performance.now()
      expect(await pollUntil(check, { timeoutMs: 300, logger, what: 'a test' })).toBeNull()
      const waited = performance.now() - started
      expect(waited).toBeGreaterThanOrEqual(290)
      expect(waited).toBeLessThan(1000)
    }
  })
})
