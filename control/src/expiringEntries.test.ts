import { describe, expect, it } from 'vitest'
import { expiringEntries, expiringGroups } from './expiringEntries.ts'

describe('expiring entries', () => {
  it('answers an entry only while it lives, and lets go of expired ones from the front', () => {
    let clock = 0
    const entries = expiringEntries<string, number>({ lifetimeMs: 10, now: () => clock }, (at) => at)
    entries.add('a', 0)
    entries.add('b', 5)
    entries.add('a', 6)
    expect(entries.get('a')).toBe(0)
    clock = 10
    expect(entries.get('a')).toBeUndefined()
    expect(entries.live()).toEqual([['b', 5]])
    expect(entries.size()).toBe(1)
    // Started too long ago already: never held.
    entries.add('c', 0)
    expect(entries.get('c')).toBeUndefined()
    clock = 15
    expect(entries.prune()).toBe(true)
    expect(entries.size()).toBe(0)
  })

  it('drops a whole group once its entries have expired, at the next sweep', () => {
    let clock = 0
    const groups = expiringGroups<string, number>({ lifetimeMs: 10, now: () => clock }, (at) => at, 10)
    groups.add('source-1', 'a', 0)
    groups.add('source-2', 'b', 8)
    expect(groups.of('source-1')?.size()).toBe(1)
    clock = 12
    expect(groups.of('source-1')).toBeUndefined()
    expect(groups.of('source-2')?.live()).toEqual([['b', 8]])
  })
})
