import type { TelemetryRecord } from '@hourglass/log'
import { describe, expect, it } from 'vitest'
import { addChange, changeOf, EVERYTHING_CHANGES, type WarehouseChange } from './warehouseChanges.ts'

const HOUR = 3600_000
const record = (stream: string, data: unknown, position = 0): TelemetryRecord => ({
  position,
  stream,
  id: `r${position}`,
  type: 'telemetry.event',
  data,
  recordedAt: 0,
})

describe('changeOf', () => {
  it('names the event-time hours of each source a batch of telemetry writes', () => {
    const t = Date.UTC(2026, 2, 1, 13, 20)
    const change = changeOf([
      record('source-a', { accountId: 'acc', timestamp: t }),
      record('source-a', { accountId: 'acc', timestamp: t + 50 * 60_000 }),
      record('source-b', { accountId: 'acc', timestamp: t - 2 * HOUR }),
      record('source-c', { accountId: 'other', timestamp: t }),
    ])
    expect(change.everything).toBe(false)
    const hour = Date.UTC(2026, 2, 1, 13)
    expect([...change.hours.get('acc')!.get('a')!]).toEqual([hour, hour + HOUR])
    expect([...change.hours.get('acc')!.get('b')!]).toEqual([hour - 2 * HOUR])
    expect([...change.hours.get('other')!.get('c')!]).toEqual([hour])
  })

  it('says everything may change for a record outside a source or without an event time', () => {
    expect(changeOf([record('account-x', { accountId: 'acc' })]).everything).toBe(true)
    expect(changeOf([record('source-a', { accountId: 'acc' })]).everything).toBe(true)
    expect(
      changeOf([record('source-a', { accountId: 'acc', timestamp: 1 }), record('person-p', {})]).everything,
    ).toBe(true)
  })
})

describe('addChange', () => {
  const hours = (entries: [string, string, number[]][]): WarehouseChange => {
    const map = new Map<string, Map<string, Set<number>>>()
    for (const [account, scope, list] of entries) {
      const scopes = map.get(account) ?? new Map<string, Set<number>>()
      map.set(account, scopes)
      scopes.set(scope, new Set(list))
    }
    return { everything: false, hours: map }
  }
  const plain = (change: WarehouseChange | null) =>
    change && {
      everything: change.everything,
      hours: [...change.hours].map(([a, s]) => [a, [...s].map(([k, h]) => [k, [...h]])]),
    }

  it('given hours told chunk after chunk, when added, then each hour is given once, the first time it comes', () => {
    const into = { everything: false, hours: new Map<string, Map<string, Set<number>>>() }
    expect(plain(addChange(into, hours([['acc', 'a', [1, 2]]])))).toEqual(
      plain(hours([['acc', 'a', [1, 2]]])),
    )
    expect(
      plain(
        addChange(
          into,
          hours([
            ['acc', 'a', [2, 3]],
            ['acc', 'b', [1]],
          ]),
        ),
      ),
    ).toEqual(
      plain(
        hours([
          ['acc', 'a', [3]],
          ['acc', 'b', [1]],
        ]),
      ),
    )
    expect(addChange(into, hours([['acc', 'a', [1, 3]]]))).toBeNull()
    expect(plain(into)).toEqual(
      plain(
        hours([
          ['acc', 'a', [1, 2, 3]],
          ['acc', 'b', [1]],
        ]),
      ),
    )
  })

  it('given everything changing, when added, then it is given once and no hour after it, the hours before it kept', () => {
    const into = { everything: false, hours: new Map<string, Map<string, Set<number>>>() }
    addChange(into, hours([['acc', 'a', [1]]]))
    expect(addChange(into, EVERYTHING_CHANGES)).toBe(EVERYTHING_CHANGES)
    expect(addChange(into, EVERYTHING_CHANGES)).toBeNull()
    expect(addChange(into, hours([['acc', 'a', [2]]]))).toBeNull()
    expect(plain(into)).toEqual({ everything: true, hours: [['acc', [['a', [1]]]]] })
  })
})
