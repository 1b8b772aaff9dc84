import { describe, expect, it } from 'vitest'
import { createFailureBackoff } from './failureBackoff.ts'

const WINDOW = 60_000

const backoffAt = (clock: { t: number }, maxKeys = 100) =>
  createFailureBackoff({ free: 3, windowMs: WINDOW, maxKeys, maxWaitMs: 24 * 3600_000, now: () => clock.t })

describe('failure back-off', () => {
  it('lets the free failures of a window through, then doubles the wait at each further failure', () => {
    // Given a key with three free failures a window.
    const clock = { t: 0 }
    const backoff = backoffAt(clock)
    // When it fails twice, it may still try.
    backoff.fail('ann')
    backoff.fail('ann')
    expect(backoff.waitOf('ann')).toBe(0)
    // Then the third failure makes it wait a window, and each failure after its wait twice as long.
    const waits: number[] = []
    for (let i = 0; i < 4; i++) {
      backoff.fail('ann')
      waits.push(backoff.waitOf('ann'))
      clock.t += backoff.waitOf('ann')
    }
    expect(waits).toEqual([WINDOW, 2 * WINDOW, 4 * WINDOW, 8 * WINDOW])
    // And other keys are not affected.
    expect(backoff.waitOf('bob')).toBe(0)
  })

  it('forgives the free failures once a window has passed, but not a wait already earned', () => {
    const clock = { t: 0 }
    const backoff = backoffAt(clock)
    // Given two failures, then a quiet window: the count starts again.
    backoff.fail('ann')
    backoff.fail('ann')
    clock.t += WINDOW
    backoff.fail('ann')
    backoff.fail('ann')
    expect(backoff.waitOf('ann')).toBe(0)
    // Given a key that earned a wait, then stayed quiet for several windows past it.
    for (let i = 0; i < 3; i++) backoff.fail('bob')
    clock.t += 5 * WINDOW
    // When it fails again, it waits twice as long as before rather than getting free failures.
    backoff.fail('bob')
    expect(backoff.waitOf('bob')).toBe(2 * WINDOW)
  })

  it('forgets a key on success, and the oldest key when it holds as many as it may', () => {
    const clock = { t: 0 }
    const backoff = backoffAt(clock, 2)
    for (let i = 0; i < 3; i++) backoff.fail('ann')
    backoff.succeed('ann')
    expect(backoff.waitOf('ann')).toBe(0)
    for (const key of ['bob', 'cyd', 'dan']) for (let i = 0; i < 3; i++) backoff.fail(key)
    expect([backoff.waitOf('bob'), backoff.waitOf('cyd'), backoff.waitOf('dan')]).toEqual([0, WINDOW, WINDOW])
  })
})
