import { stat } from 'node:fs/promises'
import type { HourglassError } from '@hourglass/schemas'
import { afterAll, describe, expect, it } from 'vitest'
import { createPasswordHasher } from './passwords.ts'

describe('password hashing', () => {
  const hasher = createPasswordHasher({ threads: 2, queue: 8 })
  afterAll(() => hasher.close())

  it('hashes with scrypt and a random salt, and verifies only the right password', async () => {
    const a = await hasher.hash('correct horse')
    const b = await hasher.hash('correct horse')
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$/)
    expect(a).not.toBe(b)
    expect(await hasher.verify('correct horse', a)).toBe(true)
    expect(await hasher.verify('correct horsf', a)).toBe(false)
    expect(await hasher.verify('correct horse', 'md5$abc')).toBe(false)
  })

  it('answers false for a user that does not exist, whatever the password', async () => {
    expect(await hasher.verify('', null)).toBe(false)
    expect(await hasher.verify('correct horse', null)).toBe(false)
  })

  it("never occupies libuv's thread pool, which the log's file I/O needs", async () => {
    // Given every thread of the pool busy and a queue behind them.
    const finished: string[] = []
    const hashes = Array.from({ length: 8 }, (_, i) =>
      hasher.verify(`guess ${i}`, null).then(() => finished.push('hash')),
    )
    // When a file is read meanwhile (fs work runs on libuv's pool, as the log's commits do).
    await stat(import.meta.dirname).then(() => finished.push('file'))
    await Promise.all(hashes)
    // Then it was answered before any hash was done.
    expect(finished[0]).toBe('file')
  })

  it('refuses work beyond its threads and its queue with a 429, and takes more once they drain', async () => {
    // Given a pool of one thread and a queue of one.
    const small = createPasswordHasher({ threads: 1, queue: 1 })
    try {
      // When five hashes are asked for at once.
      const outcomes = await Promise.allSettled(Array.from({ length: 5 }, () => small.hash('correct horse')))
      // Then two are computed and three refused, retryably, as busy.
      const refused = outcomes.filter((o) => o.status === 'rejected').map((o) => o.reason as HourglassError)
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(2)
      expect(refused.map((e) => [e.code, e.statusCode, e.retryable])).toEqual(
        Array(3).fill(['PASSWORD_CHECKS_BUSY', 429, true]),
      )
      // And once they are done, the next one is taken.
      expect(await small.hash('correct horse')).toMatch(/^scrypt\$/)
    } finally {
      await small.close()
    }
  })
})
