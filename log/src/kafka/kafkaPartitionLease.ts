import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs'
import { LogUnavailableError } from '../logErrors.ts'
import type { PartitionLease, TelemetryRecord } from '../telemetryLog.ts'

export interface KafkaRecordValue {
  readonly id: string
  readonly type: string
  readonly data: unknown
}

/** A Kafka message as a telemetry record: the key is the stream, the offset the position. */
const toTelemetryRecord = (message: KafkaMessage): TelemetryRecord => {
  const value = JSON.parse(message.value?.toString('utf8') ?? 'null') as KafkaRecordValue
  return {
    position: Number(message.offset),
    stream: message.key?.toString('utf8') ?? '',
    id: value.id,
    type: value.type,
    data: value.data,
    recordedAt: Number(message.timestamp),
  }
}

interface Buffer {
  /** Offset of `records[0]`, or of the next record expected when empty. */
  start: number
  records: TelemetryRecord[]
  /** After a seek, only a batch that starts exactly at `start` is taken: older fetches are stale. */
  seeking: boolean
  /** When the last seek was asked for (ms since the epoch); 0 when it could not be. */
  seekedAt: number
  paused: boolean
}

/**
 * How long a seek may go without the batch it waits for before it is made again. kafkajs drops
 * a seek when its consumer restarts (after losing the broker, say), and then keeps fetching from
 * wherever it stood; every batch from there is refused as a jump, and without a new seek the
 * partition would never move again. An idle partition is sought again as well, which is harmless.
 */
const SEEK_RETRY_MS = 5_000

export interface KafkaPartitionLeaseOptions {
  readonly kafka: Kafka
  readonly topic: string
  readonly groupId: string
  /** Records buffered per partition before fetching pauses. */
  readonly maxBuffered?: number
  readonly sessionTimeoutMs?: number
  readonly heartbeatIntervalMs?: number
  /** The offsets the partitions' next records will get (their high watermarks), for exact reads. */
  readonly partitionHeads: () => Promise<number[]>
  /** Longest wait for records that exist to arrive before a read gives up as unavailable. */
  readonly readTimeoutMs?: number
}

export interface KafkaPartitionLease extends PartitionLease {
  /** Records of a held partition at offsets `>= from`, ascending, at most `limit`: all that exist. */
  readPartition(partition: number, from: number, limit: number): Promise<TelemetryRecord[]>
}

/**
 * A Kafka consumer group member that buffers what it fetches per partition, so that callers
 * can read the exact offset ranges they choose (deterministic batches) instead of whatever
 * a fetch happened to return. A read that asks for another offset seeks there.
 */
export function createKafkaPartitionLease(options: KafkaPartitionLeaseOptions): KafkaPartitionLease {
  const { kafka, topic } = options
  const maxBuffered = options.maxBuffered ?? 50_000
  const readTimeoutMs = options.readTimeoutMs ?? 30_000
  const consumer: Consumer = kafka.consumer({
    groupId: options.groupId,
    sessionTimeout: options.sessionTimeoutMs ?? 10_000,
    rebalanceTimeout: Math.max(options.sessionTimeoutMs ?? 10_000, 10_000),
    heartbeatInterval: options.heartbeatIntervalMs ?? 1_000,
    maxWaitTimeInMs: 200,
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 200, maxRetryTime: 2_000 },
  })
  const buffers = new Map<number, Buffer>()
  let assigned: number[] = []
  let memberId: string | null = null
  let joined: () => void = () => {}
  const firstJoin = new Promise<void>((resolve) => {
    joined = resolve
  })
  const waiters = new Set<() => void>()
  const wake = () => {
    for (const waiter of [...waiters]) waiter()
  }
  let started: Promise<void> | null = null
  let closed = false

  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    assigned = [...(event.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b)
    memberId = event.payload.memberId
    for (const partition of [...buffers.keys()]) if (!assigned.includes(partition)) buffers.delete(partition)
    // A partition paused before it was taken away must not stay paused when it comes back.
    if (assigned.length > 0)
      consumer.resume([{ topic, partitions: assigned.filter((p) => !buffers.get(p)?.paused) }])
    joined()
    wake()
  })

  const pause = (partition: number, buffer: Buffer, paused: boolean) => {
    if (buffer.paused === paused) return
    buffer.paused = paused
    if (paused) consumer.pause([{ topic, partitions: [partition] }])
    else consumer.resume([{ topic, partitions: [partition] }])
  }

  const eachBatch = async ({ batch }: EachBatchPayload) => {
    const partition = batch.partition
    if (batch.messages.length === 0) return
    let buffer = buffers.get(partition)
    if (!buffer) {
      buffer = {
        start: Number(batch.messages[0]!.offset),
        records: [],
        seeking: false,
        seekedAt: 0,
        paused: false,
      }
      buffers.set(partition, buffer)
    }
    for (const message of batch.messages) {
      const offset = Number(message.offset)
      const expected = buffer.start + buffer.records.length
      if (offset < expected) continue
      if (offset > expected) {
        // A jump: taken when nothing is buffered and no seek waits for an exact offset.
        if (buffer.records.length > 0 || buffer.seeking) break
        buffer.start = offset
      }
      buffer.seeking = false
      buffer.records.push(toTelemetryRecord(message))
    }
    if (buffer.records.length >= maxBuffered) pause(partition, buffer, true)
    wake()
  }

  const start = () => {
    started ??= (async () => {
      await consumer.connect()
      await consumer.subscribe({ topic, fromBeginning: true })
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: true,
        partitionsConsumedConcurrently: 4,
        eachBatch,
      })
      await firstJoin
    })()
    return started
  }

  const seek = (partition: number, from: number) => {
    const previous = buffers.get(partition)
    const buffer: Buffer = {
      start: from,
      records: [],
      seeking: true,
      seekedAt: Date.now(),
      paused: previous?.paused ?? false,
    }
    buffers.set(partition, buffer)
    try {
      consumer.seek({ topic, partition, offset: String(from) })
    } catch {
      // The consumer is between a crash and its restart: the next poll seeks again.
      buffer.seekedAt = 0
      return
    }
    pause(partition, buffer, false)
  }

  /** Whether the partition's pending seek has waited long enough to be made again. */
  const seekLost = (partition: number) => {
    const buffer = buffers.get(partition)
    return buffer?.seeking === true && Date.now() - buffer.seekedAt >= SEEK_RETRY_MS
  }

  /** What the buffer holds from `from` on; seeks when `from` is neither buffered nor next. */
  const take = (partition: number, from: number, limit: number): TelemetryRecord[] | null => {
    const buffer = buffers.get(partition)
    if (!buffer) return null
    const end = buffer.start + buffer.records.length
    if (from >= buffer.start && from < end) {
      if (from > buffer.start) {
        buffer.records.splice(0, from - buffer.start)
        buffer.start = from
      }
      if (buffer.records.length < maxBuffered / 2) pause(partition, buffer, false)
      return buffer.records.slice(0, limit)
    }
    if (from === end) {
      buffer.records = []
      buffer.start = from
      pause(partition, buffer, false)
      return []
    }
    return null
  }

  const waitForRecords = (waitMs: number, signal?: AbortSignal) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        waiters.delete(done)
        signal?.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, waitMs)
      waiters.add(done)
      signal?.addEventListener('abort', done, { once: true })
    })

  /** What has arrived from `from` on, at most `limit`, waiting up to `waitMs` for some. */
  const arrived = async (
    partition: number,
    from: number,
    limit: number,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<TelemetryRecord[]> => {
    await start()
    const deadline = Date.now() + waitMs
    for (;;) {
      const taken = take(partition, from, limit)
      if (taken === null || (taken.length === 0 && seekLost(partition))) seek(partition, from)
      else if (taken.length > 0) return taken
      const left = deadline - Date.now()
      if (left <= 0 || closed || signal?.aborted) return []
      await waitForRecords(left, signal)
    }
  }

  const readPartition: KafkaPartitionLease['readPartition'] = async (partition, from, limit) => {
    await start()
    const head = (await options.partitionHeads())[partition] ?? 0
    if (from >= head || limit <= 0) return []
    const wanted = Math.min(limit, head - from)
    const deadline = Date.now() + readTimeoutMs
    const out: TelemetryRecord[] = []
    while (out.length < wanted) {
      if (closed) break
      const next = from + out.length
      const batch = await arrived(
        partition,
        next,
        wanted - out.length,
        Math.min(2_000, deadline - Date.now()),
      )
      out.push(...batch)
      if (batch.length === 0) {
        if (Date.now() >= deadline) {
          throw new LogUnavailableError(
            `records ${next}..${from + wanted} of partition ${partition} did not arrive`,
          )
        }
        // Still nothing although the records exist: fetch them again from there.
        seek(partition, next)
      }
    }
    return out
  }

  return {
    start,
    assigned: () => assigned,
    memberId: () => memberId,
    async poll(partition, from, limit, waitMs, signal) {
      const records = await arrived(partition, from, limit, waitMs, signal)
      // No later record takes an offset below one already read: the next poll starts past the last.
      return { records, next: records.length > 0 ? records[records.length - 1]!.position + 1 : from }
    },
    readPartition,
    async commit(partition, next) {
      await consumer.commitOffsets([{ topic, partition, offset: String(next) }])
    },
    async close() {
      closed = true
      wake()
      await consumer.disconnect()
    },
  }
}
