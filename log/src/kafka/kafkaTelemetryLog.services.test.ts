import { randomUUID } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { describeTelemetryLogContract } from '../contract/telemetryLogContract.ts'
import type { TelemetryLog } from '../telemetryLog.ts'
import { type KafkaTelemetryLog, openKafkaTelemetryLog } from './kafkaTelemetryLog.ts'

const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean)
const topics = new WeakMap<TelemetryLog, string>()

/** A log on its own topic. */
const open = async (topic: string, partitions: number) => {
  const log = await openKafkaTelemetryLog({ brokers, topic, partitions })
  topics.set(log, topic)
  return log
}

describeTelemetryLogContract('Kafka', {
  // Several partitions: the contract's expectations follow partitionOf().
  create: () => open(`contract-${randomUUID()}`, 3),
  reopen: (previous) => open(topics.get(previous)!, 3),
})

describe('Kafka telemetry log', () => {
  const logs: KafkaTelemetryLog[] = []
  afterAll(async () => {
    for (const log of logs) await log.close()
  })

  it('keeps each stream in one partition, in the order its records were appended, sharing sends among concurrent appends', async () => {
    const log = await open(`partitioned-${randomUUID()}`, 4)
    logs.push(log)
    expect(log.partitionCount()).toBe(4)
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
})
