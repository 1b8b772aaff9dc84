import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type {
  AppendOutcome,
  NewTelemetryRecord,
  PartitionLease,
  TelemetryLog,
  TelemetryRecord,
} from '../telemetryLog.ts'
import { openedPorts, type PortHarness } from './openedPorts.ts'

export type TelemetryLogHarness = PortHarness<TelemetryLog>

const event = (stream: string, id: string, n: number): NewTelemetryRecord => ({
  stream,
  id,
  type: 'telemetry.event',
  data: { n, name: 'page_view' },
})

/** A sent record as the log must give it back at `position`. */
const stored = (record: NewTelemetryRecord, position: number) => ({
  position,
  stream: record.stream,
  id: record.id,
  type: record.type,
  data: record.data,
  recordedAt: expect.any(Number),
})

/** Every record of a partition, read page by page. */
const readWhole = async (log: TelemetryLog, partition: number): Promise<TelemetryRecord[]> => {
  const out: TelemetryRecord[] = []
  for (let from = 0; ; ) {
    const page = await log.readPartition(partition, from, 7)
    if (page.length === 0) return out
    out.push(...page)
    from = page[page.length - 1]!.position + 1
  }
}

/** Every partition's records, by partition. */
const readEverything = async (log: TelemetryLog) =>
  Promise.all(Array.from({ length: log.partitionCount() }, (_, partition) => readWhole(log, partition)))

/** What each partition must hold after `sent` was appended with `outcomes`: the records appended, by position. */
const expectedPartitions = (
  log: TelemetryLog,
  sent: readonly NewTelemetryRecord[],
  outcomes: readonly AppendOutcome[],
) => {
  const partitions = Array.from({ length: log.partitionCount() }, () => [] as ReturnType<typeof stored>[])
  sent.forEach((record, i) => {
    const outcome = outcomes[i]!
    if (outcome.status === 'appended') {
      partitions[log.partitionOf(record.stream)]!.push(stored(record, outcome.position))
    }
  })
  return partitions.map((records) => records.sort((a, b) => a.position - b.position))
}

/** A stream whose records go to `partition`. */
const streamIn = (log: TelemetryLog, partition: number, prefix = 'source') => {
  for (let i = 0; ; i++) if (log.partitionOf(`${prefix}-${i}`) === partition) return `${prefix}-${i}`
}

/**
 * What a log promises of a re-sent id: refused as a duplicate naming the first one's position, or
 * appended again at a later position (readers drop it).
 */
const expectResent = (outcome: AppendOutcome | undefined, first: number) => {
  if (outcome?.status === 'duplicate') expect(outcome.position).toBe(first)
  else expect(outcome?.position).toBeGreaterThan(first)
}

/** Polls a partition from 0, following `next`, until `count` records came (or too many polls went by). */
const pollFromStart = async (lease: PartitionLease, partition: number, count: number, limit: number) => {
  const records: TelemetryRecord[] = []
  let from = 0
  for (let polls = 0; records.length < count && polls < 200; polls++) {
    const polled = await lease.poll(partition, from, limit, 5_000)
    expect(polled.records.length).toBeLessThanOrEqual(limit)
    for (const record of polled.records) expect(record.position).toBeGreaterThanOrEqual(from)
    if (polled.records.length > 0) {
      expect(polled.next).toBeGreaterThan(polled.records[polled.records.length - 1]!.position)
    }
    expect(polled.next).toBeGreaterThanOrEqual(from)
    records.push(...polled.records)
    from = polled.next
  }
  return { records, next: from }
}

/** The behaviour every TelemetryLog adapter promises. Run it against each adapter. */
export function describeTelemetryLogContract(adapter: string, harness: TelemetryLogHarness) {
  describe(`TelemetryLog contract: ${adapter}`, () => {
    const { create, reopen } = openedPorts(harness)

    it('given an empty log, when records of several streams are appended, then each partition gives back its streams in the order sent, at the positions the append named', async () => {
      const log = await create()
      const count = log.partitionCount()
      expect(count).toBeGreaterThanOrEqual(1)
      expect(await log.partitionStarts()).toEqual(new Array(count).fill(0))
      expect(await readEverything(log)).toEqual(new Array(count).fill([]))

      const sent = Array.from({ length: 24 }, (_, i) => event(`source-${i % 6}`, `e${i}`, i))
      const outcomes = await log.appendEvents(sent)

      expect(outcomes.map((outcome) => outcome.status)).toEqual(sent.map(() => 'appended'))
      const partitions = await readEverything(log)
      expect(partitions).toEqual(expectedPartitions(log, sent, outcomes))
      for (const [partition, records] of partitions.entries()) {
        const streams = new Set(records.map((record) => record.stream))
        for (const stream of streams) expect(log.partitionOf(stream)).toBe(partition)
        // A stream keeps the order its records were sent in.
        for (const stream of streams) {
          const ns = records.filter((r) => r.stream === stream).map((r) => (r.data as { n: number }).n)
          expect(ns).toEqual(sent.filter((r) => r.stream === stream).map((r) => (r.data as { n: number }).n))
        }
      }
      const heads = await log.partitionHeads()
      for (const [partition, records] of partitions.entries()) {
        const last = records[records.length - 1]
        if (last) expect(heads[partition]).toBeGreaterThan(last.position)
        expect(await log.readPartition(partition, heads[partition]!, 10)).toEqual([])
      }
      // A read from any position gives the records from there, at most `limit` of them.
      const [first, second] = outcomes
      const partition = log.partitionOf(sent[0]!.stream)
      expect(await log.readPartition(partition, first!.position, 1)).toEqual([
        stored(sent[0]!, first!.position),
      ])
      expect(await log.readPartition(log.partitionOf(sent[1]!.stream), second!.position, 1)).toEqual([
        stored(sent[1]!, second!.position),
      ])
    })

    it('given a record, when its id is sent again in its stream, then it is refused naming the first or appended later, and the first reads back unchanged', async () => {
      const log = await create()
      const original = event('source-a', 'x', 1)
      const [first] = await log.appendEvents([original])
      expect(first?.status).toBe('appended')

      const sent = [
        event('source-a', 'x', 2),
        // The same id in another stream is another record.
        event('source-b', 'x', 3),
        event('source-a', 'y', 4),
        event('source-a', 'y', 5),
      ]
      const outcomes = await log.appendEvents(sent)

      expectResent(outcomes[0], first!.position)
      expect(outcomes[1]?.status).toBe('appended')
      expect(outcomes[2]?.status).toBe('appended')
      expectResent(outcomes[3], outcomes[2]!.position)
      const partition = log.partitionOf('source-a')
      expect(await log.readPartition(partition, first!.position, 1)).toEqual([
        stored(original, first!.position),
      ])
      expect(await log.readPartition(partition, outcomes[2]!.position, 1)).toEqual([
        stored(sent[2]!, outcomes[2]!.position),
      ])
      expect(await readEverything(log)).toEqual(
        expectedPartitions(log, [original, ...sent], [first!, ...outcomes]),
      )
    })

    it('given many producers, when they append at the same time, then each record gets its own position and reads back there', async () => {
      const log = await create()
      const batches = Array.from({ length: 100 }, (_, i) => [
        event(`source-${i % 7}`, `a${i}`, 2 * i),
        event(`source-${i % 7}`, `b${i}`, 2 * i + 1),
      ])

      const outcomes = await Promise.all(batches.map((batch) => log.appendEvents(batch)))

      for (const [i, [a, b]] of outcomes.entries()) {
        expect([a?.status, b?.status]).toEqual(['appended', 'appended'])
        // One append keeps its order within a stream.
        expect(b!.position).toBeGreaterThan(a!.position)
        expect(log.partitionOf(batches[i]![0]!.stream)).toBe(log.partitionOf(batches[i]![1]!.stream))
      }
      expect(await readEverything(log)).toEqual(expectedPartitions(log, batches.flat(), outcomes.flat()))
    })

    it('given a log holding records, when an empty batch is appended, then nothing is written', async () => {
      const log = await create()
      await log.appendEvents([event('source-a', 'a', 1)])
      const heads = await log.partitionHeads()
      const before = await readEverything(log)

      expect(await log.appendEvents([])).toEqual([])

      expect(await log.partitionHeads()).toEqual(heads)
      expect(await readEverything(log)).toEqual(before)
    })

    it('given acknowledged records, when the log is closed and opened again, then every one reads back unchanged and a re-sent id leaves the first untouched', async () => {
      const log = await create()
      const sent = Array.from({ length: 12 }, (_, i) => event(`source-${i % 4}`, `e${i}`, i))
      const outcomes = await log.appendEvents(sent)
      const before = await readEverything(log)
      expect(before).toEqual(expectedPartitions(log, sent, outcomes))

      const again = await reopen(log)

      expect(again.partitionCount()).toBe(log.partitionCount())
      expect(await readEverything(again)).toEqual(before)
      const [resent] = await again.appendEvents([event('source-0', 'e0', 99)])
      expectResent(resent, outcomes[0]!.position)
      expect(await again.readPartition(again.partitionOf('source-0'), outcomes[0]!.position, 1)).toEqual([
        stored(sent[0]!, outcomes[0]!.position),
      ])
    })

    it('given records holding strings that are not well-formed Unicode, when they are read back, before and after the log is opened again, then each is as sent', async () => {
      // Ingest refuses lone surrogates; records written past it (an older version, a bug) must
      // still read back as they were written, so that projections set the same ones aside
      // whichever copy they read.
      const log = await create()
      const sent: NewTelemetryRecord[] = [
        { stream: 'source-0', id: 'lone-1', type: 'telemetry.event', data: { name: 'x\ud800', n: 1 } },
        {
          stream: 'source-0',
          id: 'lone-2',
          type: 'telemetry.event',
          data: { attrs: { 'k\udc00': ['y\udbff'] } },
        },
        event('source-0', 'fine', 3),
      ]
      const outcomes = await log.appendEvents(sent)
      const expected = expectedPartitions(log, sent, outcomes)
      expect(await readEverything(log)).toEqual(expected)

      expect(await readEverything(await reopen(log))).toEqual(expected)
    })

    it('given the only member of a group, when it polls each partition from the start, then it gets every record once, in order, and is listed until it leaves', async () => {
      const log = await create()
      const sent = Array.from({ length: 30 }, (_, i) => event(`source-${i % 5}`, `e${i}`, i))
      const expected = expectedPartitions(log, sent, await log.appendEvents(sent))
      const group = `group-${randomUUID()}`
      expect(await log.groupMembers(group)).toEqual([])
      const lease = log.lease({ group })
      expect(lease.memberId()).toBeNull()

      await lease.start()

      const memberId = lease.memberId()
      expect(memberId).toEqual(expect.any(String))
      expect(await log.groupMembers(group)).toEqual([memberId])
      expect([...lease.assigned()].sort((a, b) => a - b)).toEqual(
        Array.from({ length: log.partitionCount() }, (_, i) => i),
      )
      for (const partition of lease.assigned()) {
        const polled = await pollFromStart(lease, partition, expected[partition]!.length, 4)
        expect(polled.records).toEqual(expected[partition])
        expect(await log.readPartition(partition, polled.next, 10)).toEqual([])
        await lease.commit(partition, polled.next)
      }
      await lease.close()
      expect(await log.groupMembers(group)).toEqual([])
    })

    it('given a member at the head of a partition, when nothing arrives, then its poll ends empty; when a record arrives while it waits, then the poll hands it over', async () => {
      const log = await create()
      const stream = streamIn(log, log.partitionCount() - 1)
      const partition = log.partitionOf(stream)
      await log.appendEvents([event(stream, 'early', 1)])
      const head = (await log.partitionHeads())[partition]!
      const lease = log.lease({ group: `group-${randomUUID()}` })
      await lease.start()

      const idle = await lease.poll(partition, head, 10, 200)
      expect(idle.records).toEqual([])
      expect(idle.next).toBeGreaterThanOrEqual(head)

      const waiting = lease.poll(partition, idle.next, 10, 50_000)
      const late = event(stream, 'late', 2)
      const [appended] = await log.appendEvents([late])
      expect(await waiting).toEqual({
        records: [stored(late, appended!.position)],
        next: appended!.position + 1,
      })
      await lease.close()
    })

    it('given a poll waiting at the head, when its signal aborts, then it ends with no records', async () => {
      const log = await create()
      const partition = 0
      const head = (await log.partitionHeads())[partition]!
      const lease = log.lease({ group: `group-${randomUUID()}` })
      await lease.start()
      const abort = new AbortController()

      const waiting = lease.poll(partition, head, 10, 600_000, abort.signal)
      abort.abort()

      const polled = await waiting
      expect(polled.records).toEqual([])
      expect(polled.next).toBeGreaterThanOrEqual(head)
      await lease.close()
    })
  })
}
