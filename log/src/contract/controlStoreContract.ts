import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { ControlRecord, ControlStore, NewControlRecord, StreamAppendOutcome } from '../controlStore.ts'
import { openedPorts, type PortHarness } from './openedPorts.ts'

/**
 * How the contract reaches an adapter. A new adapter (PostgreSQL, say) needs only this: a store
 * over storage nobody else uses (a database or schema of its own), and the same storage again
 * after a close.
 */
export type ControlStoreHarness = PortHarness<ControlStore>

const dataOf = (n: number) => ({ n, note: `change ${n}` })
const change = (type: string, n: number): NewControlRecord => ({ type, data: dataOf(n) })

/** A sent record as the store must give it back, as revision `revision` of `stream`. */
const kept = (stream: string, revision: number, record: NewControlRecord) => ({
  position: expect.any(Number),
  stream,
  revision,
  id: expect.any(String),
  type: record.type,
  data: record.data,
  recordedAt: expect.any(Number),
})

/** Every record, read page by page from the start. */
const readEverything = async (store: ControlStore, pageSize = 1000): Promise<ControlRecord[]> => {
  const out: ControlRecord[] = []
  for (let from = 0; ; ) {
    const page = await store.readAll(from, pageSize)
    if (page.length === 0) return out
    expect(page.length).toBeLessThanOrEqual(pageSize)
    out.push(...page)
    from = page[page.length - 1]!.position + 1
  }
}

const expectAscending = (records: readonly ControlRecord[]) => {
  for (let i = 1; i < records.length; i++) {
    expect(records[i]!.position).toBeGreaterThan(records[i - 1]!.position)
  }
}

const appended = (outcome: StreamAppendOutcome) => {
  if (outcome.status !== 'appended') throw new Error(`expected an append, got ${JSON.stringify(outcome)}`)
  return outcome
}

/** The behaviour every ControlStore adapter promises. Run it against each adapter. */
export function describeControlStoreContract(adapter: string, harness: ControlStoreHarness) {
  describe(`ControlStore contract: ${adapter}`, () => {
    const { create, reopen } = openedPorts(harness)
    /** A store holding one stream at revision 0, and the name of one it does not hold. */
    const givenOneStream = async () => {
      const store = await create()
      const stream = `account-${randomUUID()}`
      const missing = `account-${randomUUID()}`
      appended(await store.appendToStream(stream, [change('opened', 1)], 'no-stream'))
      return { store, stream, missing, before: await store.readAll(0, 100) }
    }

    it('given a new store, when records are appended to several streams, then each stream reads back in revision order and all of them in append order', async () => {
      const store = await create()
      const [a, b] = [`account-${randomUUID()}`, `source-${randomUUID()}`]
      expect(await store.readAll(0, 100)).toEqual([])
      expect(await store.readStream(a)).toEqual([])
      const sent: [string, NewControlRecord[]][] = [
        [a, [change('opened', 1), change('renamed', 2)]],
        [b, [change('created', 3)]],
        [a, [change('closed', 4)]],
      ]

      const first = appended(await store.appendToStream(a, sent[0]![1], 'no-stream'))
      const second = appended(await store.appendToStream(b, sent[1]![1], 'no-stream'))
      const third = appended(await store.appendToStream(a, sent[2]![1], 1))

      expect([first.revision, second.revision, third.revision]).toEqual([1, 0, 2])
      const streamA = [kept(a, 0, sent[0]![1][0]!), kept(a, 1, sent[0]![1][1]!), kept(a, 2, sent[2]![1][0]!)]
      expect(await store.readStream(a)).toEqual(streamA)
      expect(await store.readStream(a, 1)).toEqual(streamA.slice(1))
      expect(await store.readStream(b)).toEqual([kept(b, 0, sent[1]![1][0]!)])
      const all = await store.readAll(0, 100)
      expect(all).toEqual([streamA[0], streamA[1], kept(b, 0, sent[1]![1][0]!), streamA[2]])
      expectAscending(all)
      expect([all[0]!.position, all[2]!.position, all[3]!.position]).toEqual([
        first.firstPosition,
        second.firstPosition,
        third.firstPosition,
      ])
      expect(new Set(all.map((record) => record.id)).size).toBe(all.length)
      // A stream's records read alone are the very records read in the global order.
      expect(await store.readStream(a)).toEqual([all[0], all[1], all[3]])
    })

    it('given a stream, when appends expect another revision than its own, then they are conflicts that write nothing', async () => {
      const { store, stream, missing, before } = await givenOneStream()

      const outcomes = [
        await store.appendToStream(stream, [change('opened', 2)], 'no-stream'),
        await store.appendToStream(stream, [change('renamed', 3)], 5),
        await store.appendToStream(missing, [change('renamed', 4)], 0),
      ]

      expect(outcomes).toEqual([
        { status: 'conflict', actualRevision: 0 },
        { status: 'conflict', actualRevision: 0 },
        { status: 'conflict', actualRevision: null },
      ])
      expect(await store.readAll(0, 100)).toEqual(before)
      expect(await store.readStream(missing)).toEqual([])
      // The revisions it does expect, and `any`, append.
      expect(appended(await store.appendToStream(stream, [change('renamed', 5)], 0)).revision).toBe(1)
      expect(appended(await store.appendToStream(stream, [change('noted', 6)], 'any')).revision).toBe(2)
      expect(appended(await store.appendToStream(missing, [change('noted', 7)], 'any')).revision).toBe(0)
      expect((await store.readStream(stream)).map((record) => record.data)).toEqual([1, 5, 6].map(dataOf))
    })

    it('given a stream, when several appends expecting its revision race, then exactly one wins and the stream holds its records alone', async () => {
      const store = await create()
      const created = `account-${randomUUID()}`
      const racers = Array.from({ length: 5 }, (_, i) => [change('created', i)])

      const creations = await Promise.all(
        racers.map((records) => store.appendToStream(created, records, 'no-stream')),
      )
      const updates = await Promise.all(racers.map((records) => store.appendToStream(created, records, 0)))

      for (const outcomes of [creations, updates]) {
        expect(outcomes.filter((outcome) => outcome.status === 'appended')).toHaveLength(1)
        expect(outcomes.filter((outcome) => outcome.status === 'conflict')).toHaveLength(racers.length - 1)
      }
      const creator = creations.findIndex((outcome) => outcome.status === 'appended')
      const updater = updates.findIndex((outcome) => outcome.status === 'appended')
      for (const [i, outcome] of updates.entries()) {
        if (i !== updater) expect(outcome).toEqual({ status: 'conflict', actualRevision: 1 })
      }
      expect(await store.readStream(created)).toEqual([
        kept(created, 0, racers[creator]![0]!),
        kept(created, 1, racers[updater]![0]!),
      ])
    })

    it('given many records, when they are read page by page from the last position seen, then each comes once, in append order', async () => {
      const store = await create()
      const streams = Array.from({ length: 5 }, () => `source-${randomUUID()}`)
      const sent: { stream: string; revision: number; record: NewControlRecord }[] = []
      for (let i = 0; i < 25; i++) {
        const stream = streams[i % streams.length]!
        const record = change('changed', i)
        const revision = Math.floor(i / streams.length)
        appended(await store.appendToStream(stream, [record], revision === 0 ? 'no-stream' : revision - 1))
        sent.push({ stream, revision, record })
      }
      const expected = sent.map(({ stream, revision, record }) => kept(stream, revision, record))

      const paged = await readEverything(store, 7)

      expect(paged).toEqual(expected)
      expectAscending(paged)
      expect(await store.readAll(paged[10]!.position, 3)).toEqual(paged.slice(10, 13))
      expect(await store.readAll(paged[24]!.position + 1, 10)).toEqual([])
    })

    it('given many writers, when they append to their own streams at the same time, then every append lands whole', async () => {
      const store = await create()
      const writes = Array.from({ length: 40 }, (_, i) => ({
        stream: `device-${randomUUID()}`,
        records: [change('registered', 2 * i), change('bound', 2 * i + 1)],
      }))

      const outcomes = await Promise.all(
        writes.map(({ stream, records }) => store.appendToStream(stream, records, 'no-stream')),
      )

      for (const outcome of outcomes) expect(appended(outcome).revision).toBe(1)
      const all = await readEverything(store)
      expectAscending(all)
      expect(all).toHaveLength(writes.length * 2)
      for (const [i, { stream, records }] of writes.entries()) {
        const own = all.filter((record) => record.stream === stream)
        expect(own).toEqual([kept(stream, 0, records[0]!), kept(stream, 1, records[1]!)])
        expect(own[0]!.position).toBe(appended(outcomes[i]!).firstPosition)
        expect(await store.readStream(stream)).toEqual(own)
      }
    })

    it('given a store, when an empty batch is appended, then nothing is written and the revision is checked all the same', async () => {
      const { store, stream, missing, before } = await givenOneStream()

      const onMissing = await store.appendToStream(missing, [], 'no-stream')
      const onStream = await store.appendToStream(stream, [], 0)
      const conflict = await store.appendToStream(stream, [], 'no-stream')

      expect(onMissing).toMatchObject({ status: 'appended', revision: -1 })
      expect(onStream).toMatchObject({ status: 'appended', revision: 0 })
      expect(conflict).toEqual({ status: 'conflict', actualRevision: 0 })
      expect(await store.readAll(0, 100)).toEqual(before)
      expect(await store.readStream(missing)).toEqual([])
      // The missing stream is still missing: its creation is not refused.
      expect(appended(await store.appendToStream(missing, [change('opened', 2)], 'no-stream')).revision).toBe(
        0,
      )
    })

    it('given acknowledged appends, when the store is closed and opened again, then every record reads back unchanged and revisions go on from there', async () => {
      const store = await create()
      const [a, b] = [`account-${randomUUID()}`, `source-${randomUUID()}`]
      appended(await store.appendToStream(a, [change('opened', 1), change('renamed', 2)], 'no-stream'))
      appended(await store.appendToStream(b, [change('created', 3)], 'no-stream'))
      const before = await readEverything(store)

      const again = await reopen(store)

      expect(await readEverything(again)).toEqual(before)
      expect(await again.readStream(a)).toEqual(before.filter((record) => record.stream === a))
      expect(await again.appendToStream(a, [change('opened', 4)], 'no-stream')).toEqual({
        status: 'conflict',
        actualRevision: 1,
      })
      const next = appended(await again.appendToStream(a, [change('closed', 5)], 1))
      expect(next.revision).toBe(2)
      expect(next.firstPosition).toBeGreaterThan(before[before.length - 1]!.position)
    })
  })
}
