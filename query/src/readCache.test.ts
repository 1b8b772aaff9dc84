import type { WarehouseChange } from '@hourglass/projections'
import { describe, expect, it } from 'vitest'
import { type AnswerScope, cachedAnswer, createReadCache, HOUR_MS } from './readCache.ts'

const H = Date.UTC(2026, 0, 5, 10)
const hourOf = (n: number) => H + n * HOUR_MS

/** A batch writing these hours of one source of one account. */
const writes = (accountId: string, sourceId: string, ...hours: number[]): WarehouseChange => ({
  everything: false,
  hours: new Map([[accountId, new Map([[sourceId, new Set(hours)]])]]),
})
const everything: WarehouseChange = { everything: true, hours: new Map() }

const scope = (sourceId: string | null, from: number, to: number, accountId = 'acc-1'): AnswerScope => ({
  accountId,
  sourceId,
  fromHour: from,
  toHour: to,
})

/** A cache holding one answer per scope, stored by a read that no write overlapped. */
const cacheWith = (entries: Record<string, AnswerScope>) => {
  const cache = createReadCache({ maxBytes: 1024 * 1024 })
  for (const [key, s] of Object.entries(entries))
    expect(cache.store(key, Buffer.from(`"${key}"`), s, cache.mark())).toBe(true)
  return cache
}

describe('read cache', () => {
  it('drops the answers that read an hour a batch writes, before and after it, and no others', () => {
    // Given answers over hours 0-2 and 3-5 of source s1, and one of source s2.
    const cache = cacheWith({
      early: scope('s1', hourOf(0), hourOf(3)),
      late: scope('s1', hourOf(3), hourOf(6)),
      other: scope('s2', hourOf(0), hourOf(6)),
    })
    // When a batch starts writing hour 4 of s1.
    cache.changing(writes('acc-1', 's1', hourOf(4)))
    // Then only the answer that read hour 4 of s1 is gone.
    expect(cache.get('early')?.toString()).toBe('"early"')
    expect(cache.get('late')).toBeUndefined()
    expect(cache.get('other')?.toString()).toBe('"other"')
    // And an answer kept again before the batch ends is dropped when it ends.
    cache.changed(writes('acc-1', 's1', hourOf(4)))
    expect(cache.store('late', Buffer.from('new'), scope('s1', hourOf(3), hourOf(6)), cache.mark())).toBe(
      true,
    )
    cache.changing(writes('acc-1', 's1', hourOf(5)))
    cache.changed(writes('acc-1', 's1', hourOf(5)))
    expect(cache.get('late')).toBeUndefined()
  })

  it('keeps no answer read while a write to its source was under way, or began or ended', () => {
    const cache = createReadCache({ maxBytes: 1024 * 1024 })
    const s1 = scope('s1', hourOf(0), hourOf(1))
    // Given a read that started before a batch of s1 (in another hour) began.
    const before = cache.mark()
    cache.changing(writes('acc-1', 's1', hourOf(9)))
    // Then neither it, nor a read that starts while the batch is under way, keeps its answer.
    expect(cache.store('a', Buffer.from('x'), s1, before)).toBe(false)
    const during = cache.mark()
    expect(cache.store('a', Buffer.from('x'), s1, during)).toBe(false)
    cache.changed(writes('acc-1', 's1', hourOf(9)))
    expect(cache.store('a', Buffer.from('x'), s1, during)).toBe(false)
    // While a read of another source, or of another account's, is kept.
    expect(cache.store('b', Buffer.from('y'), scope('s2', hourOf(0), hourOf(1)), before)).toBe(true)
    expect(cache.store('c', Buffer.from('z'), scope('s1', hourOf(0), hourOf(1), 'acc-2'), before)).toBe(true)
    // And a read that starts once the batch is written keeps its answer.
    expect(cache.store('a', Buffer.from('x'), s1, cache.mark())).toBe(true)
    expect(cache.get('a')?.toString()).toBe('x')
  })

  it("drops an account-wide answer when any of the account's sources is written, and everything on an erasure", () => {
    const cache = cacheWith({
      all: scope(null, 0, Number.POSITIVE_INFINITY),
      elsewhere: scope(null, 0, Number.POSITIVE_INFINITY, 'acc-2'),
    })
    cache.changing(writes('acc-1', 's7', hourOf(1)))
    expect(cache.get('all')).toBeUndefined()
    expect(cache.get('elsewhere')?.toString()).toBe('"elsewhere"')
    cache.changed(writes('acc-1', 's7', hourOf(1)))
    cache.changing(everything)
    expect(cache.get('elsewhere')).toBeUndefined()
    expect(cache.store('elsewhere', Buffer.from('x'), scope(null, 0, 1, 'acc-2'), cache.mark())).toBe(false)
    cache.changed(everything)
  })

  it('reads through, and keeps what it may, with cachedAnswer', async () => {
    const cache = createReadCache({ maxBytes: 1024 * 1024 })
    let reads = 0
    const read = async () => {
      reads++
      return { json: `{"n":${reads}}`, scope: scope('s1', hourOf(0), hourOf(1)) }
    }
    expect((await cachedAnswer(cache, 'k', read)).toString()).toBe('{"n":1}')
    expect((await cachedAnswer(cache, 'k', read)).toString()).toBe('{"n":1}')
    cache.changing(writes('acc-1', 's1', hourOf(0)))
    cache.changed(writes('acc-1', 's1', hourOf(0)))
    expect((await cachedAnswer(cache, 'k', read)).toString()).toBe('{"n":2}')
    // Without a cache every call reads.
    expect((await cachedAnswer(undefined, 'k', read)).toString()).toBe('{"n":3}')
  })

  it('shares a read under way with readers of the same thing while no write to its scope has ended since it began', async () => {
    const cache = createReadCache({ maxBytes: 1024 * 1024 })
    const s1 = scope('s1', hourOf(0), hourOf(1))
    let reads = 0
    const pending: (() => void)[] = []
    const read = () =>
      new Promise<number>((resolve) => {
        const n = ++reads
        pending.push(() => resolve(n))
      })
    const finishAll = () => {
      for (const finish of pending.splice(0)) finish()
    }
    // Given a read under way, a second reader of the same key shares it; another key reads apart.
    const first = cache.shared('k', s1, read)
    const joined = cache.shared('k', s1, read)
    const apart = cache.shared('other', s1, read)
    finishAll()
    expect([await first, await joined, await apart]).toEqual([1, 1, 2])
    // A write that begins after a read began is no due of readers arriving while it is under way:
    // they share the read.
    const before = cache.shared('k', s1, read)
    cache.changing(writes('acc-1', 's1', hourOf(9)))
    const during = cache.shared('k', s1, read)
    // Once the write has ended, a reader arriving then must see it: it reads again, and so does
    // every reader after it (none joins a read that began before the write ended).
    cache.changed(writes('acc-1', 's1', hourOf(9)))
    const afterEnd = cache.shared('k', s1, read)
    const afterThat = cache.shared('k', s1, read)
    finishAll()
    expect([await before, await during, await afterEnd, await afterThat]).toEqual([3, 3, 4, 4])
    // A read that begins while a write is under way is shared until that write ends.
    cache.changing(writes('acc-1', 's1', hourOf(9)))
    const whileWriting = cache.shared('k', s1, read)
    const sharesIt = cache.shared('k', s1, read)
    cache.changed(writes('acc-1', 's1', hourOf(9)))
    const afterItEnded = cache.shared('k', s1, read)
    finishAll()
    expect([await whileWriting, await sharesIt, await afterItEnded]).toEqual([5, 5, 6])
    // A write to another source does not stop readers sharing, nor does its end.
    const again = cache.shared('k', s1, read)
    cache.changing(writes('acc-1', 's2', hourOf(0)))
    cache.changed(writes('acc-1', 's2', hourOf(0)))
    const sharing = cache.shared('k', s1, read)
    // An erasure (everything) ends: nobody shares a read begun before it.
    cache.changing(everything)
    cache.changed(everything)
    const afterErasure = cache.shared('k', s1, read)
    finishAll()
    expect([await again, await sharing, await afterErasure]).toEqual([7, 7, 8])
  })
})
