import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import type { EventLog, NewTelemetryRecord } from '../eventLog.ts'

export interface EventLogHarness {
  /** A log over fresh, empty storage. */
  create(): Promise<EventLog>
  /** The same storage opened again after `close()`, as after a restart. */
  reopen(log: EventLog): Promise<EventLog>
}

const telemetry = (stream: string, id: string, n = 0): NewTelemetryRecord => ({
  stream,
  id,
  type: 'telemetry.event',
  data: { n, name: 'page_view' },
})

/**
 * What an adapter keeps beyond telemetry. Kafka has no conditional appends, so it keeps no
 * control-plane streams and cannot refuse a re-sent id at append time; the tests of those
 * promises are skipped for it (and reported as skipped).
 */
export interface EventLogCapabilities {
  readonly controlStreams: boolean
  readonly idDeduplication: boolean
}

/** The behaviour every EventLog adapter promises. Run it against each adapter. */
export function describeEventLogContract(
  adapter: string,
  harness: EventLogHarness,
  capabilities: EventLogCapabilities = { controlStreams: true, idDeduplication: true },
) {
  describe(`EventLog contract: ${adapter}`, () => {
    const open: EventLog[] = []
    const create = async () => {
      const log = await harness.create()
      open.push(log)
      return log
    }
    afterEach(async () => {
      for (const log of open.splice(0)) await log.close()
    })

    it('given an empty log, when records are appended, then they are read back in order at contiguous positions', async () => {
      const log = await create()
      expect(await log.head()).toBe(0)
      const outcomes = await log.appendEvents([
        telemetry('s1', 'a', 1),
        telemetry('s1', 'b', 2),
        telemetry('s2', 'c', 3),
      ])
      expect(outcomes).toEqual([
        { status: 'appended', position: 0 },
        { status: 'appended', position: 1 },
        { status: 'appended', position: 2 },
      ])
      expect(await log.head()).toBe(3)
      const records = await log.read(0, 10)
      expect(records.map((r) => [r.position, r.stream, r.id, r.revision])).toEqual([
        [0, 's1', 'a', null],
        [1, 's1', 'b', null],
        [2, 's2', 'c', null],
      ])
      expect(records[1]!.data).toEqual({ n: 2, name: 'page_view' })
      expect(await log.read(1, 1)).toHaveLength(1)
      expect(await log.read(3, 10)).toEqual([])
    })

    it.skipIf(!capabilities.idDeduplication)(
      'counts an id once per stream, also within one batch, and tells the original position',
      async () => {
        const log = await create()
        await log.appendEvents([telemetry('s1', 'x', 1)])
        const outcomes = await log.appendEvents([
          telemetry('s1', 'x', 2),
          telemetry('s2', 'x', 3),
          telemetry('s1', 'y', 4),
          telemetry('s1', 'y', 5),
        ])
        expect(outcomes).toEqual([
          { status: 'duplicate', position: 0 },
          { status: 'appended', position: 1 },
          { status: 'appended', position: 2 },
          { status: 'duplicate', position: 2 },
        ])
        const records = await log.read(0, 10)
        expect(records.map((r) => (r.data as { n: number }).n)).toEqual([1, 3, 4])
      },
    )

    it('gives concurrent appends distinct, gap-free positions', async () => {
      const log = await create()
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => log.appendEvents([telemetry(`s${i % 7}`, `e${i}`, i)])),
      )
      const positions = results.map((r) => r[0]!.position).sort((a, b) => a - b)
      expect(positions).toEqual(Array.from({ length: 200 }, (_, i) => i))
      expect(await log.head()).toBe(200)
    })

    it.skipIf(!capabilities.controlStreams)('appends to a stream only at the expected revision', async () => {
      const log = await create()
      const stream = `account-${randomUUID()}`
      const first = await log.appendToStream(stream, [{ type: 'opened', data: { a: 1 } }], 'no-stream')
      expect(first).toMatchObject({ status: 'appended', revision: 0 })
      expect(await log.appendToStream(stream, [{ type: 'opened', data: {} }], 'no-stream')).toEqual({
        status: 'conflict',
        actualRevision: 0,
      })
      expect(await log.appendToStream(stream, [{ type: 'renamed', data: {} }], 5)).toEqual({
        status: 'conflict',
        actualRevision: 0,
      })
      const second = await log.appendToStream(
        stream,
        [
          { type: 'renamed', data: { b: 2 } },
          { type: 'closed', data: {} },
        ],
        0,
      )
      expect(second).toMatchObject({ status: 'appended', revision: 2 })
      const any = await log.appendToStream(stream, [{ type: 'noted', data: {} }], 'any')
      expect(any).toMatchObject({ status: 'appended', revision: 3 })
      const read = await log.readStream(stream)
      expect(read.map((r) => [r.revision, r.type])).toEqual([
        [0, 'opened'],
        [1, 'renamed'],
        [2, 'closed'],
        [3, 'noted'],
      ])
      expect((await log.readStream(stream, 2)).map((r) => r.type)).toEqual(['closed', 'noted'])
      expect(await log.readStream('no-such-stream')).toEqual([])
    })

    it.skipIf(!capabilities.controlStreams)(
      'lets exactly one of two racing creators of a stream win',
      async () => {
        const log = await create()
        const stream = `race-${randomUUID()}`
        const outcomes = await Promise.all([
          log.appendToStream(stream, [{ type: 'created', data: { by: 1 } }], 'no-stream'),
          log.appendToStream(stream, [{ type: 'created', data: { by: 2 } }], 'no-stream'),
        ])
        expect(outcomes.map((o) => o.status).sort()).toEqual(['appended', 'conflict'])
        expect(await log.readStream(stream)).toHaveLength(1)
      },
    )

    it.skipIf(!capabilities.controlStreams)(
      'interleaves stream and telemetry records in one order, and lists stream records apart',
      async () => {
        const log = await create()
        await log.appendEvents([telemetry('s1', 'a')])
        await log.appendToStream('cfg-1', [{ type: 'created', data: {} }], 'no-stream')
        await log.appendEvents([telemetry('s1', 'b')])
        await log.appendToStream('cfg-2', [{ type: 'created', data: {} }], 'no-stream')
        const all = await log.read(0, 10)
        expect(all.map((r) => r.stream)).toEqual(['s1', 'cfg-1', 's1', 'cfg-2'])
        const control = await log.readControl(0, 10)
        expect(control.map((r) => [r.position, r.stream])).toEqual([
          [1, 'cfg-1'],
          [3, 'cfg-2'],
        ])
        expect((await log.readControl(2, 10)).map((r) => r.position)).toEqual([3])
      },
    )

    it('subscribes from a position, hands over what exists, then waits for new records', async () => {
      const log = await create()
      await log.appendEvents([telemetry('s', '1'), telemetry('s', '2'), telemetry('s', '3')])
      const abort = new AbortController()
      const seen: number[] = []
      const consumer = (async () => {
        for await (const batch of log.subscribe(1, { batchSize: 2, signal: abort.signal })) {
          for (const record of batch) seen.push(record.position)
          if (seen.length >= 4) abort.abort()
        }
      })()
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(seen).toEqual([1, 2])
      await log.appendEvents([telemetry('s', '4'), telemetry('s', '5')])
      await consumer
      expect(seen).toEqual([1, 2, 3, 4])
    })

    it('keeps every acknowledged record across a restart', async () => {
      const log = await harness.create()
      await log.appendEvents([telemetry('s', 'a', 1), telemetry('s', 'b', 2)])
      if (capabilities.controlStreams) {
        await log.appendToStream('cfg', [{ type: 'created', data: { x: 1 } }], 'no-stream')
      }
      await log.close()
      const again = await harness.reopen(log)
      open.push(again)
      expect(await again.head()).toBe(capabilities.controlStreams ? 3 : 2)
      expect((await again.read(0, 10)).map((r) => r.id).slice(0, 2)).toEqual(['a', 'b'])
      if (capabilities.idDeduplication) {
        expect(await again.appendEvents([telemetry('s', 'a', 9)])).toEqual([
          { status: 'duplicate', position: 0 },
        ])
      }
      if (capabilities.controlStreams) {
        expect(await again.appendToStream('cfg', [{ type: 'x', data: {} }], 'no-stream')).toEqual({
          status: 'conflict',
          actualRevision: 0,
        })
      }
    })
  })
}
