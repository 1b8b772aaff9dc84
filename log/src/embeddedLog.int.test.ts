import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open } from 'lmdb'
import { afterAll, describe, expect, it } from 'vitest'
import { describeControlStoreContract } from './contract/controlStoreContract.ts'
import { describeTelemetryLogContract } from './contract/telemetryLogContract.ts'
import { createEmbeddedLog, type EmbeddedTelemetryLog } from './embeddedLog.ts'

const root = mkdtempSync(join(tmpdir(), 'hourglass-log-'))
const paths = new WeakMap<object, string>()
let n = 0
afterAll(() => rmSync(root, { recursive: true, force: true }))

/** A log over `path`, remembered by both of its ports so that either can be reopened. */
const openAt = (path: string) => {
  const log = createEmbeddedLog({ path })
  paths.set(log.telemetry, path)
  paths.set(log.control, path)
  return log
}

describeTelemetryLogContract('embedded (LMDB)', {
  create: async () => openAt(join(root, `log-${n++}`)).telemetry,
  reopen: async (previous) => openAt(paths.get(previous)!).telemetry,
})

describeControlStoreContract('embedded (LMDB)', {
  create: async () => openAt(join(root, `log-${n++}`)).control,
  reopen: async (previous) => openAt(paths.get(previous)!).control,
})

describe('embedded log', () => {
  const event = (id: string, data: unknown = {}) => ({ stream: 's', id, type: 't', data })

  it('shares one commit among appends that arrive together (group commit)', async () => {
    const { telemetry, close } = createEmbeddedLog({ path: join(root, 'group-commit') })
    await Promise.all(Array.from({ length: 500 }, (_, i) => telemetry.appendEvents([event(`e${i}`, { i })])))
    const { commits, head } = telemetry.stats()
    expect(head).toBe(500)
    expect(commits).toBeLessThan(50)
    await close()
  })

  it('refuses appends to either port after close with a retryable error', async () => {
    const { telemetry, control } = createEmbeddedLog({ path: join(root, 'closed') })
    await control.close()
    const closed = { code: 'LOG_CLOSED', retryable: true }
    await expect(telemetry.appendEvents([event('a')])).rejects.toMatchObject(closed)
    await expect(control.appendToStream('account-1', [{ type: 'c', data: {} }], 'any')).rejects.toMatchObject(
      closed,
    )
  })

  it('given telemetry and control records, when they are appended in turn, then they share one sequence of positions and each port reads only its own', async () => {
    const log = createEmbeddedLog({ path: join(root, 'one-sequence') })
    const [a] = await log.telemetry.appendEvents([event('a')])
    const created = await log.control.appendToStream(
      'account-1',
      [{ type: 'c', data: { n: 1 } }],
      'no-stream',
    )
    const [b] = await log.telemetry.appendEvents([event('b')])

    expect([a?.position, created.status === 'appended' && created.firstPosition, b?.position]).toEqual([
      0, 1, 2,
    ])
    expect((await log.telemetry.readPartition(0, 0, 10)).map((r) => [r.position, r.id])).toEqual([
      [0, 'a'],
      [2, 'b'],
    ])
    expect((await log.telemetry.readPartition(0, 1, 1)).map((r) => r.id)).toEqual(['b'])
    expect((await log.control.readAll(0, 10)).map((r) => [r.position, r.stream])).toEqual([[1, 'account-1']])
    expect(await log.control.readAll(2, 10)).toEqual([])
    expect(await log.telemetry.partitionHeads()).toEqual([3])
    await log.close()
  })

  it('given control records after the last telemetry record, when a member polls, then next moves past them once no telemetry record can take them', async () => {
    const log = createEmbeddedLog({ path: join(root, 'poll-past-control') })
    const lease = log.telemetry.lease({ group: 'projections' })
    await lease.start()
    await log.telemetry.appendEvents([event('a'), event('b')])
    await log.control.appendToStream(
      'account-1',
      [
        { type: 'c', data: {} },
        { type: 'd', data: {} },
      ],
      'any',
    )

    // A full page ends at its last record; a page short of its limit ends at the head.
    const full = await lease.poll(0, 0, 1, 0)
    const short = await lease.poll(0, full.next, 10, 0)
    const empty = await lease.poll(0, short.next, 10, 0)
    await log.control.appendToStream('account-1', [{ type: 'e', data: {} }], 'any')
    const afterControl = await lease.poll(0, empty.next, 10, 0)
    const waiting = lease.poll(0, afterControl.next, 10, 50_000)
    await log.control.appendToStream('account-1', [{ type: 'f', data: {} }], 'any')
    const [late] = await log.telemetry.appendEvents([event('late')])

    expect([full.records.map((r) => r.id), full.next]).toEqual([['a'], 1])
    expect([short.records.map((r) => r.id), short.next]).toEqual([['b'], 4])
    expect(empty).toEqual({ records: [], next: 4 })
    expect(afterControl).toEqual({ records: [], next: 5 })
    const woken = await waiting
    expect([woken.records.map((r) => [r.position, r.id]), woken.next]).toEqual([
      [[late!.position, 'late']],
      7,
    ])
    await log.close()
  })

  it("given a log that another process writes, when a member waits at the head, then it finds the other process's records in the file", async () => {
    const path = join(root, 'two-processes')
    const reader = createEmbeddedLog({ path, pollIntervalMs: 20 })
    const lease = reader.telemetry.lease({ group: 'projections' })
    await lease.start()
    const waiting = lease.poll(0, 0, 10, 50_000)

    const writer = createEmbeddedLog({ path })
    await writer.telemetry.appendEvents([event('from-ingest', { n: 1 })])

    expect((await waiting).records).toEqual([
      {
        position: 0,
        stream: 's',
        id: 'from-ingest',
        type: 't',
        data: { n: 1 },
        recordedAt: expect.any(Number),
      },
    ])
    await writer.close()
    await reader.close()
  })

  it('given two leases of one group, then each holds the one partition, and the group lists the open ones', async () => {
    const log = createEmbeddedLog({ path: join(root, 'group-members') })
    const [first, second, other] = [
      log.telemetry.lease({ group: 'projections' }),
      log.telemetry.lease({ group: 'projections' }),
      log.telemetry.lease({ group: 'replays' }),
    ]
    for (const lease of [first, second, other]) await lease!.start()

    expect(first!.memberId()).not.toBe(second!.memberId())
    expect([first!.assigned(), second!.assigned()]).toEqual([[0], [0]])
    expect((await log.telemetry.groupMembers('projections')).sort()).toEqual(
      [first!.memberId(), second!.memberId()].sort(),
    )
    await first!.close()
    expect(await log.telemetry.groupMembers('projections')).toEqual([second!.memberId()])
    expect(await log.telemetry.groupMembers('replays')).toEqual([other!.memberId()])
    await log.close()
    expect(await log.telemetry.groupMembers('projections')).toEqual([])
  })

  it('reads a range whole and the same, whether its records are still in memory or only in the file', async () => {
    const path = join(root, 'recent-window')
    // A window of 8 remembers only the last 8 of the 20 records appended below.
    const log = createEmbeddedLog({ path, recentRecords: 8 })
    for (let i = 0; i < 20; i += 5) {
      await log.telemetry.appendEvents(
        Array.from({ length: 5 }, (_, j) => ({
          stream: `s${(i + j) % 3}`,
          id: `e${i + j}`,
          type: 't',
          data: { i: i + j, attrs: { nested: [i + j, 'x', null, { deep: true }] } },
        })),
      )
    }
    await log.control.appendToStream('account-1', [{ type: 'c', data: { n: 1 } }], 'no-stream')
    const telemetry = await log.telemetry.readPartition(0, 0, 100)
    const control = await log.control.readAll(0, 100)
    expect([...telemetry, ...control].map((r) => r.position)).toEqual(Array.from({ length: 21 }, (_, i) => i))
    expect((await log.telemetry.readPartition(0, 9, 5)).map((r) => r.position)).toEqual([9, 10, 11, 12, 13])
    await log.close()

    const reopened = createEmbeddedLog({ path, recentRecords: 0 })
    expect(await reopened.telemetry.readPartition(0, 0, 100)).toEqual(telemetry)
    expect(await reopened.control.readAll(0, 100)).toEqual(control)
    expect(await reopened.control.readStream('account-1')).toEqual(control)
    await reopened.close()
  })

  it('reads records stored each with its own structure, as logs written before shared structures hold them', async () => {
    const path = join(root, 'inline-structures')
    const env = open({ path, maxDbs: 8 })
    const legacy = env.openDB({ name: 'records' })
    const stored = (i: number) => ({
      s: 'source-1',
      r: null,
      i: `e${i}`,
      t: 'telemetry.event',
      d: { name: 'view', attrs: { n: i } },
      at: 1_700_000_000_000 + i,
    })
    await legacy.transaction(() => {
      for (let i = 0; i < 3; i++) legacy.putSync(i, stored(i))
    })
    await env.close()

    const log = createEmbeddedLog({ path, recentRecords: 0 })
    await log.telemetry.appendEvents([
      { stream: 'source-1', id: 'e3', type: 'telemetry.event', data: { name: 'view' } },
    ])
    const records = await log.telemetry.readPartition(0, 0, 10)
    expect(records.slice(0, 3)).toEqual(
      [0, 1, 2].map((i) => ({
        position: i,
        stream: 'source-1',
        id: `e${i}`,
        type: 'telemetry.event',
        data: { name: 'view', attrs: { n: i } },
        recordedAt: 1_700_000_000_000 + i,
      })),
    )
    expect(records[3]).toMatchObject({ position: 3, id: 'e3', data: { name: 'view' } })
    await log.close()
  })
})

describe('embedded log: ids appended before', () => {
  const events = (ids: readonly string[]) =>
    ids.map((id) => ({ stream: 'telemetry-s', id, type: 'telemetry.event', data: { id } }))
  const ids = (prefix: string, from: number, count: number) =>
    Array.from({ length: count }, (_, i) => `${prefix}${from + i}`)
  const filled = async (log: EmbeddedTelemetryLog) => {
    for (let i = 0; i < 500 && log.stats().idFilter.state === 'filling'; i++) await sleep(10)
    return log.stats().idFilter.state
  }
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

  it('finds an id appended before a restart, before its filter is filled from the file and after', async () => {
    const path = join(root, 'ids-restart')
    const first = createEmbeddedLog({ path }).telemetry
    for (let i = 0; i < 3; i++) await first.appendEvents(events(ids('e', i * 1000, 1000)))
    await first.close()

    const log = createEmbeddedLog({ path }).telemetry
    // Nothing is read into the filter until the first append asks about an id.
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(log.stats().idFilter.state).toBe('idle')
    const early = await log.appendEvents(events(ids('e', 0, 100)))
    expect(early).toEqual(ids('e', 0, 100).map((_, i) => ({ status: 'duplicate', position: i })))

    expect(await filled(log)).toBe('ready')
    const later = await log.appendEvents(events([...ids('e', 2900, 100), ...ids('n', 0, 100)]))
    expect(later.slice(0, 100)).toEqual(
      ids('e', 2900, 100).map((_, i) => ({ status: 'duplicate', position: 2900 + i })),
    )
    expect(later.slice(100)).toEqual(
      ids('n', 0, 100).map((_, i) => ({ status: 'appended', position: 3000 + i })),
    )
    await log.close()
  })

  it('grows its filter with the log and still finds every earlier id', async () => {
    const log = createEmbeddedLog({ path: join(root, 'ids-growth'), idFilterCapacity: 100 }).telemetry
    await log.appendEvents(events(ids('e', 0, 100)))
    // Sized from the option, not the default million, and not grown by the first fill reading
    // this append's ids back after they were added.
    expect(log.stats().idFilter.capacity).toBeLessThan(200)
    for (let i = 1; i < 20; i++) await log.appendEvents(events(ids('e', i * 100, 100)))
    expect(await filled(log)).toBe('ready')
    expect(log.stats().idFilter.capacity).toBeGreaterThanOrEqual(2000)
    const again = await log.appendEvents(events(ids('e', 0, 1000)))
    const againRest = await log.appendEvents(events(ids('e', 1000, 1000)))
    expect([...again, ...againRest]).toEqual(
      ids('e', 0, 2000).map((_, i) => ({ status: 'duplicate', position: i })),
    )
    expect(await log.head()).toBe(2000)
    await log.close()
  })

  it('looks every id up again once another writer has appended to the same file', async () => {
    const path = join(root, 'ids-two-writers')
    const log = createEmbeddedLog({ path }).telemetry
    await log.appendEvents(events(ids('e', 0, 10)))
    expect(await filled(log)).toBe('ready')
    // A second instance on the same file stands for another process: its ids are not in the first's filter.
    const other = createEmbeddedLog({ path }).telemetry
    expect(await other.appendEvents(events(ids('x', 0, 10)))).toEqual(
      ids('x', 0, 10).map((_, i) => ({ status: 'appended', position: 10 + i })),
    )
    expect(await log.appendEvents(events(ids('x', 0, 10)))).toEqual(
      ids('x', 0, 10).map((_, i) => ({ status: 'duplicate', position: 10 + i })),
    )
    await other.close()
    await log.close()
  })
})
