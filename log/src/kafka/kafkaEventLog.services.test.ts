import { randomUUID } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { describeEventLogContract } from '../contract/eventLogContract.ts'
import type { EventLog } from '../eventLog.ts'
import { type KafkaEventLog, openKafkaEventLog } from './kafkaEventLog.ts'

const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean)
const topics = new WeakMap<EventLog, string>()

/** A log on its own topic, with its reader already in its group (as a running worker's is). */
const open = async (topic: string, partitions = 1) => {
  const log = await openKafkaEventLog({ brokers, topic, partitions })
  topics.set(log, topic)
  if (partitions === 1) await log.read(0, 0)
  return log
}

describeEventLogContract(
  'Kafka',
  {
    create: () => open(`contract-${randomUUID()}`),
    reopen: (previous) => open(topics.get(previous)!),
  },
  { controlStreams: false, idDeduplication: false },
)

describe('Kafka event log', () => {
  const logs: KafkaEventLog[] = []
  afterAll(async () => {
    for (const log of logs) await log.close()
  })

  it('keeps each stream in one partition, in the order its records were appended', async () => {
    const log = await open(`partitioned-${randomUUID()}`, 4)
    logs.push(log)
    expect(await log.partitionCount()).toBe(4)
    const streams = Array.from({ length: 12 }, (_, i) => `source-${i}`)
    const sent = streams.flatMap((stream) =>
      Array.from({ length: 25 }, (_, n) => ({
        stream,
        id: `${stream}-${n}`,
        type: 'telemetry.event',
        data: { n },
      })),
    )
    // Concurrent appends of interleaved streams.
    await Promise.all(
      Array.from({ length: 10 }, (_, k) => log.appendEvents(sent.filter((_, i) => i % 10 === k))),
    )
    const heads = await log.partitionHeads()
    expect(heads.reduce((a, b) => a + b, 0)).toBe(sent.length)
    const seen = new Map<string, number[]>()
    for (const [partition, head] of heads.entries()) {
      const records = await log.readPartition(partition, 0, head)
      expect(records.map((r) => r.position)).toEqual(Array.from({ length: head }, (_, i) => i))
      for (const record of records) {
        expect(log.partitionOf(record.stream)).toBe(partition)
        seen.set(record.stream, [...(seen.get(record.stream) ?? []), (record.data as { n: number }).n])
      }
    }
    expect(seen.size).toBe(streams.length)
    for (const [stream, ns] of seen) {
      const expected = sent.filter((r) => r.stream === stream).map((r) => r.data.n)
      // Each concurrent append carries its own records in order; a stream's order is kept within each append.
      expect([...ns].sort((a, b) => a - b)).toEqual(expected)
    }
    expect(log.stats().sends).toBeLessThan(10)
  })

  it('says what it does not keep: control-plane streams', async () => {
    const log = await open(`control-${randomUUID()}`)
    logs.push(log)
    await expect(log.appendToStream('cfg', [{ type: 'x', data: {} }], 'no-stream')).rejects.toMatchObject({
      code: 'LOG_OPERATION_UNSUPPORTED',
    })
  })
})
