import { describe, expect, it } from 'vitest'
import { idKey, KeyFilter } from './appendedIds.ts'

describe('KeyFilter', () => {
  it('knows every key added, and mistakes about 1% of the others for added ones when full', () => {
    const filter = new KeyFilter(100_000)
    const added = Array.from({ length: filter.capacity }, (_, i) => idKey('telemetry-src-1', `event-${i}`))
    for (const key of added) filter.add(key)
    expect(added.filter((key) => !filter.mightHave(key))).toEqual([])
    const others = Array.from({ length: 100_000 }, (_, i) => idKey('telemetry-src-1', `other-${i}`))
    const mistaken = others.filter((key) => filter.mightHave(key)).length
    expect(mistaken).toBeGreaterThan(0)
    expect(mistaken / others.length).toBeLessThan(0.02)
  })

  it('counts a key added twice once, so reading back ids it holds does not make it grow', () => {
    const filter = new KeyFilter(10_000)
    const keys = Array.from({ length: 5_000 }, (_, i) => idKey('telemetry-src-1', `event-${i}`))
    for (const key of keys) filter.add(key)
    const once = filter.size
    for (const key of keys) filter.add(key)
    expect(filter.size).toBe(once)
    // A new key whose bits were all set already is not counted: a few of 5,000 at most.
    expect(once).toBeGreaterThan(4_950)
    expect(once).toBeLessThanOrEqual(5_000)
  })

  it('tells keys apart by stream as well as by id', () => {
    const filter = new KeyFilter(1000)
    filter.add(idKey('telemetry-a', 'same-id'))
    expect(filter.mightHave(idKey('telemetry-a', 'same-id'))).toBe(true)
    expect(filter.mightHave(idKey('telemetry-b', 'same-id'))).toBe(false)
  })
})
