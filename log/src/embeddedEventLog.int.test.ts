import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open } from 'lmdb'
import { afterAll, describe, expect, it } from 'vitest'
import { describeEventLogContract } from './contract/eventLogContract.ts'
import { createEmbeddedEventLog } from './embeddedEventLog.ts'
import type { EventLog } from './eventLog.ts'

const root = mkdtempSync(join(tmpdir(), 'hourglass-log-'))
const paths = new WeakMap<EventLog, string>()
let n = 0
afterAll(() => rmSync(root, { recursive: true, force: true }))

describeEventLogContract('embedded (LMDB)', {
  async create() {
    const path = join(root, `log-${n++}`)
    const log = createEmbeddedEventLog({ path })
    paths.set(log, path)
    return log
  },
  async reopen(previous) {
    const path = paths.get(previous)!
    const log = createEmbeddedEventLog({ path })
    paths.set(log, path)
    return log
  },
})

describe('embedded event log', () => {
  it('shares one commit among appends that arrive together (group commit)', async () => {
    const log = createEmbeddedEventLog({ path: join(root, 'group-commit') })
    await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        log.appendEvents([{ stream: 's', id: `e${i}`, type: 't', data: { i } }]),
      ),
    )
    const { commits, head } = log.stats()
    expect(head).toBe(500)
    expect(commits).toBeLessThan(50)
    await log.close()
  })

  it('refuses appends after close with a retryable error', async () => {
    const log = createEmbeddedEventLog({ path: join(root, 'closed') })
    await log.close()
    await expect(log.appendEvents([{ stream: 's', id: 'a', type: 't', data: {} }])).rejects.toMatchObject({
      code: 'LOG_CLOSED',
      retryable: true,
    })
  })

  it('reads a range whole and the same, whether its records are still in memory or only in the file', async () => {
    const path = join(root, 'recent-window')
    // A window of 8 remembers only the last 8 of the 20 records appended below.
    const log = createEmbeddedEventLog({ path, recentRecords: 8 })
    for (let i = 0; i < 20; i += 5) {
      await log.appendEvents(
        Array.from({ length: 5 }, (_, j) => ({
          stream: `s${(i + j) % 3}`,
          id: `e${i + j}`,
          type: 't',
          data: { i: i + j, attrs: { nested: [i + j, 'x', null, { deep: true }] } },
        })),
      )
    }
    await log.appendToStream('account-1', [{ type: 'c', data: { n: 1 } }], 'no-stream')
    const fromMemory = await log.read(0, 100)
    expect(fromMemory.map((r) => r.position)).toEqual(Array.from({ length: 21 }, (_, i) => i))
    expect((await log.read(9, 5)).map((r) => r.position)).toEqual([9, 10, 11, 12, 13])
    await log.close()

    const reopened = createEmbeddedEventLog({ path, recentRecords: 0 })
    expect(await reopened.read(0, 100)).toEqual(fromMemory)
    expect(await reopened.readStream('account-1')).toEqual(fromMemory.slice(20))
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

    const log = createEmbeddedEventLog({ path, recentRecords: 0 })
    await log.appendEvents([
      { stream: 'source-1', id: 'e3', type: 'telemetry.event', data: { name: 'view' } },
    ])
    const records = await log.read(0, 10)
    expect(records.slice(0, 3)).toEqual(
      [0, 1, 2].map((i) => ({
        position: i,
        stream: 'source-1',
        revision: null,
        id: `e${i}`,
        type: 'telemetry.event',
        data: { name: 'view', attrs: { n: i } },
        recordedAt: 1_700_000_000_000 + i,
      })),
    )
    expect(records[3]).toMatchObject({ position: 3, id: 'e3', data: { name: 'view' } })
    await log.close()
  })

  it('holds a small batch until its first record is lingerMs old, gathering what arrives meanwhile', async () => {
    const log = createEmbeddedEventLog({ path: join(root, 'linger') })
    const append = (id: string) => log.appendEvents([{ stream: 's', id, type: 't', data: {} }])
    const firstBatch = async (lingerMs: number, from: number) => {
      const abort = new AbortController()
      for await (const batch of log.subscribe(from, { batchSize: 100, lingerMs, signal: abort.signal })) {
        abort.abort()
        return batch.map((record) => record.id)
      }
      return []
    }
    await append('a')
    const later = new Promise<void>((resolve) => setTimeout(() => void append('b').then(() => resolve()), 50))
    expect(await firstBatch(400, 0)).toEqual(['a', 'b'])
    await later
    await append('c')
    const lateD = new Promise<void>((resolve) => setTimeout(() => void append('d').then(() => resolve()), 50))
    expect(await firstBatch(0, 2)).toEqual(['c'])
    await lateD
    await log.close()
  })
})

describe('embedded event log: ids appended before', () => {
  const events = (ids: readonly string[]) =>
    ids.map((id) => ({ stream: 'telemetry-s', id, type: 'telemetry.event', data: { id } }))
  const ids = (prefix: string, from: number, count: number) =>
    Array.from({ length: count }, (_, i) => `${prefix}${from + i}`)
  const filled = async (log: ReturnType<typeof createEmbeddedEventLog>) => {
    for (let i = 0; i < 500 && log.stats().idFilter.state === 'filling'; i++) await sleep(10)
    return log.stats().idFilter.state
  }
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

  it('finds an id appended before a restart, before its filter is filled from the file and after', async () => {
    const path = join(root, 'ids-restart')
    const first = createEmbeddedEventLog({ path })
    for (let i = 0; i < 3; i++) await first.appendEvents(events(ids('e', i * 1000, 1000)))
    await first.close()

    const log = createEmbeddedEventLog({ path })
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
    const log = createEmbeddedEventLog({ path: join(root, 'ids-growth'), idFilterCapacity: 100 })
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
    const log = createEmbeddedEventLog({ path })
    await log.appendEvents(events(ids('e', 0, 10)))
    expect(await filled(log)).toBe('ready')
    // A second instance on the same file stands for another process: its ids are not in the first's filter.
    const other = createEmbeddedEventLog({ path })
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
