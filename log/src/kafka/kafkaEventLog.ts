import { randomUUID } from 'node:crypto'
import kafkajs, { type Admin, type Kafka, type LogEntry, type Producer } from 'kafkajs'
import {
  type AppendOutcome,
  type EventLog,
  LogClosedError,
  LogOperationUnsupportedError,
  type LogRecord,
  LogUnavailableError,
  type NewTelemetryRecord,
  type PartitionedLogReader,
  type PartitionLease,
  type SubscribeOptions,
} from '../eventLog.ts'
import { createKafkaPartitionLease, type KafkaRecordValue } from './kafkaPartitionLease.ts'

const { Kafka: KafkaClient, logLevel, Partitioners } = kafkajs

/** The topic Hourglass's telemetry goes to (seed 000 names it). */
export const RAW_TOPIC = 'analytics-data.raw'

export interface KafkaEventLogOptions {
  /** `host:port` of one or more brokers. */
  readonly brokers: readonly string[]
  readonly topic?: string
  /** Partitions of the topic if this log creates it; an existing topic keeps its own. */
  readonly partitions?: number
  readonly replicationFactor?: number
  readonly clientId?: string
  /**
   * Longest wait for the broker to acknowledge an append. Past it the append fails as
   * unavailable (ingest answers 503), and the producer starts afresh.
   */
  readonly appendTimeoutMs?: number
  /** kafkajs's own log lines; dropped when absent. */
  readonly onClientLog?: (entry: { level: 'error' | 'warn' | 'info'; message: string }) => void
}

export interface KafkaEventLog extends EventLog, PartitionedLogReader {
  /** The partition a stream's records go to (Kafka's default partitioner: murmur2 of the key). */
  partitionOf(stream: string): number
  /** A member of a consumer group over this log's topic. */
  lease(options: { groupId: string; sessionTimeoutMs?: number; maxBuffered?: number }): PartitionLease
  /** Sends made so far: concurrent appends share one, as the embedded log shares a commit. */
  stats(): { sends: number }
  /**
   * Per partition, the first offset the broker still holds (above 0 once retention has
   * deleted records): a rebuild from offset 0 needs every one of them to be 0.
   */
  partitionStarts(): Promise<number[]>
  /** The member ids of a consumer group's live members (none when the group is empty or unknown). */
  groupMembers(groupId: string): Promise<string[]>
}

interface Pending {
  readonly records: readonly NewTelemetryRecord[]
  resolve(outcomes: AppendOutcome[]): void
  reject(error: unknown): void
}

const clientLogger =
  (onClientLog: KafkaEventLogOptions['onClientLog']) =>
  () =>
  ({ level, log }: LogEntry) => {
    if (!onClientLog) return
    const name = level === logLevel.ERROR ? 'error' : level === logLevel.WARN ? 'warn' : 'info'
    onClientLog({ level: name, message: `${log.message}${log.error ? `: ${String(log.error)}` : ''}` })
  }

const withTimeout = <T>(work: Promise<T>, ms: number, what: string) => {
  // Once timed out, the caller has its error; the abandoned work's own failure has nobody to tell.
  work.catch(() => undefined)
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LogUnavailableError(`${what} got no answer within ${ms} ms`)), ms)
  })
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer))
}

const unavailable = (what: string, error: unknown) =>
  error instanceof LogUnavailableError
    ? error
    : new LogUnavailableError(`${what}: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      })

/**
 * The event log on Kafka: telemetry records are messages of one topic, keyed by stream so
 * each stream stays in one partition and keeps its order; positions are offsets within a
 * partition. Appends go through an idempotent producer with acks=all and resolve once the
 * broker acknowledged them. One send is in flight at a time and carries every append that
 * arrived meanwhile (the idempotent producer keeps its sequence numbers that way).
 *
 * Kafka has no conditional appends, so control-plane streams (which need an expected
 * revision) are not kept here, and an id is not checked against earlier records at append
 * time: projections drop re-sent ids by (stream, id) deterministically.
 */
export async function openKafkaEventLog(options: KafkaEventLogOptions): Promise<KafkaEventLog> {
  const topic = options.topic ?? RAW_TOPIC
  const appendTimeoutMs = options.appendTimeoutMs ?? 5_000
  const kafka: Kafka = new KafkaClient({
    clientId: options.clientId ?? 'hourglass',
    brokers: [...options.brokers],
    connectionTimeout: 3_000,
    requestTimeout: appendTimeoutMs,
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2_000 },
    logLevel: logLevel.WARN,
    logCreator: clientLogger(options.onClientLog),
  })
  const admin: Admin = kafka.admin()
  try {
    await withTimeout(admin.connect(), 30_000, 'connecting to Kafka')
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic,
          numPartitions: options.partitions ?? 1,
          replicationFactor: options.replicationFactor ?? 1,
          // The log is the source of truth: a replay reads every partition from offset 0, so
          // records are kept for good (an existing topic keeps its own setting).
          configEntries: [{ name: 'retention.ms', value: '-1' }],
        },
      ],
    })
  } catch (error) {
    await admin.disconnect().catch(() => undefined)
    throw unavailable('opening the Kafka topic', error)
  }
  const metadata = await admin.fetchTopicMetadata({ topics: [topic] })
  const partitionMetadata = metadata.topics[0]!.partitions
  const partitions = partitionMetadata.length
  const partitioner = Partitioners.DefaultPartitioner()
  const partitionOf = (stream: string) =>
    partitioner({ topic, partitionMetadata, message: { key: stream, value: null } })

  const newProducer = () =>
    kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Idempotence needs retries; the append timeout above bounds how long a caller waits.
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 1_000 },
    })
  let producer: Producer | null = null
  let connecting: Promise<Producer> | null = null
  const connectedProducer = () => {
    connecting ??= (async () => {
      const fresh = newProducer()
      try {
        await withTimeout(fresh.connect(), appendTimeoutMs, 'connecting the producer')
      } catch (error) {
        void fresh.disconnect().catch(() => undefined)
        throw error
      }
      producer = fresh
      return fresh
    })().finally(() => {
      connecting = null
    })
    return producer ? Promise.resolve(producer) : connecting
  }
  /** After a failed or timed-out send the producer's sequence state is unknown: start a new one. */
  const dropProducer = () => {
    const old = producer
    producer = null
    if (old) void old.disconnect().catch(() => undefined)
  }

  let queue: Pending[] = []
  let sending = false
  let sends = 0
  let closed = false
  const leases: PartitionLease[] = []

  const sendQueued = async () => {
    if (sending) return
    sending = true
    try {
      while (queue.length > 0) {
        const work = queue
        queue = []
        const messages = work.flatMap((item) =>
          item.records.map((record) => {
            const value: KafkaRecordValue = { id: record.id, type: record.type, data: record.data }
            return { key: record.stream, value: JSON.stringify(value), partition: partitionOf(record.stream) }
          }),
        )
        try {
          const live = await connectedProducer()
          const acknowledged = await withTimeout(
            live.send({ topic, acks: -1, timeout: appendTimeoutMs, messages }),
            appendTimeoutMs,
            'the broker',
          )
          sends += 1
          const next = new Map<number, number>()
          for (const meta of acknowledged) {
            if (meta.errorCode !== 0 || meta.baseOffset === undefined) {
              throw new LogUnavailableError(`partition ${meta.partition} answered error ${meta.errorCode}`)
            }
            next.set(meta.partition, Number(meta.baseOffset))
          }
          let index = 0
          for (const item of work) {
            const outcomes: AppendOutcome[] = item.records.map(() => {
              const partition = messages[index++]!.partition
              const position = next.get(partition)!
              next.set(partition, position + 1)
              return { status: 'appended', position }
            })
            item.resolve(outcomes)
          }
        } catch (error) {
          dropProducer()
          const failure = unavailable('appending to Kafka', error)
          for (const item of work) item.reject(failure)
        }
      }
    } finally {
      sending = false
    }
  }

  const watermarks = async (which: 'low' | 'high') => {
    try {
      const offsets = await withTimeout(admin.fetchTopicOffsets(topic), appendTimeoutMs, 'reading offsets')
      const marks = new Array<number>(partitions).fill(0)
      for (const entry of offsets) marks[entry.partition] = Number(entry[which])
      return marks
    } catch (error) {
      throw unavailable('reading offsets', error)
    }
  }
  const partitionHeads = () => watermarks('high')

  let reader: PartitionLease | null = null
  const ownReader = () => {
    reader ??= lease({ groupId: `hourglass-reader-${randomUUID()}` })
    return reader
  }
  const lease: KafkaEventLog['lease'] = (leaseOptions) => {
    const created = createKafkaPartitionLease({
      kafka,
      topic,
      groupId: leaseOptions.groupId,
      partitionHeads,
      ...(leaseOptions.sessionTimeoutMs ? { sessionTimeoutMs: leaseOptions.sessionTimeoutMs } : {}),
      ...(leaseOptions.maxBuffered ? { maxBuffered: leaseOptions.maxBuffered } : {}),
    })
    leases.push(created)
    return created
  }

  /** `read`, `head` and `subscribe` see one order only when the topic has one partition. */
  const onlyPartition = (operation: string) => {
    if (partitions !== 1) {
      throw new LogOperationUnsupportedError(
        operation,
        `the topic has ${partitions} partitions: read each with readPartition()`,
      )
    }
    return 0
  }

  const unsupportedControl = (operation: string) =>
    Promise.reject(
      new LogOperationUnsupportedError(
        operation,
        'control-plane streams need conditional appends, which Kafka lacks; they live in the control store',
      ),
    )

  const read = (from: number, limit: number): Promise<LogRecord[]> =>
    ownReader().readPartition(onlyPartition('read'), from, limit)

  return {
    topic,
    partitionOf,
    partitionCount: async () => partitions,
    partitionHeads,
    readPartition: (partition, from, limit) => ownReader().readPartition(partition, from, limit),
    lease,
    stats: () => ({ sends }),
    partitionStarts: () => watermarks('low'),
    async groupMembers(groupId) {
      try {
        const described = await withTimeout(
          admin.describeGroups([groupId]),
          appendTimeoutMs,
          'describing the consumer group',
        )
        return (described.groups[0]?.members ?? []).map((member) => member.memberId)
      } catch (error) {
        throw unavailable('describing the consumer group', error)
      }
    },
    appendEvents(records) {
      if (closed) return Promise.reject(new LogClosedError())
      if (records.length === 0) return Promise.resolve([])
      return new Promise<AppendOutcome[]>((resolve, reject) => {
        queue.push({ records, resolve, reject })
        void sendQueued()
      })
    },
    appendToStream: () => unsupportedControl('appendToStream'),
    readStream: () => unsupportedControl('readStream'),
    readControl: () => unsupportedControl('readControl'),
    read,
    async *subscribe(from: number, subscribeOptions: SubscribeOptions = {}) {
      const partition = onlyPartition('subscribe')
      const batchSize = subscribeOptions.batchSize ?? 1000
      const tail = ownReader()
      let next = from
      while (!subscribeOptions.signal?.aborted && !closed) {
        const batch = await tail.poll(partition, next, batchSize, 500, subscribeOptions.signal)
        if (batch.length === 0) continue
        next = batch[batch.length - 1]!.position + 1
        yield batch
      }
    },
    head: async () => (await partitionHeads())[onlyPartition('head')] ?? 0,
    async close() {
      if (closed) return
      closed = true
      while (sending || queue.length > 0) {
        await sendQueued()
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      for (const open of leases.splice(0)) await open.close().catch(() => undefined)
      await producer?.disconnect().catch(() => undefined)
      await admin.disconnect().catch(() => undefined)
    },
  }
}
