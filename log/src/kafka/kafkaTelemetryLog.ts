import { randomUUID } from 'node:crypto'
import kafkajs, { type Admin, type Kafka, type LogEntry, type Producer } from 'kafkajs'
import { LogClosedError, LogUnavailableError } from '../logErrors.ts'
import type { AppendOutcome, NewTelemetryRecord, PartitionLease, TelemetryLog } from '../telemetryLog.ts'
import {
  createKafkaPartitionLease,
  type KafkaPartitionLease,
  type KafkaRecordValue,
} from './kafkaPartitionLease.ts'

const { Kafka: KafkaClient, logLevel, Partitioners } = kafkajs

/** Tries at reading the partitions' offsets while a partition has no leader for a moment. */
const WATERMARK_ATTEMPTS = 5

/** The topic Hourglass's telemetry goes to (seed 000 names it). */
export const RAW_TOPIC = 'analytics-data.raw'

export interface KafkaTelemetryLogOptions {
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

/**
 * The telemetry log on one Kafka topic: partitions are the topic's, positions are offsets, a
 * lease is a member of a consumer group (`groupMembers` lists a group's live members).
 */
export interface KafkaTelemetryLog extends TelemetryLog {
  readonly topic: string
  /** Sends made so far: concurrent appends share one, as the embedded log shares a commit. */
  stats(): { sends: number }
}

interface Pending {
  readonly records: readonly NewTelemetryRecord[]
  resolve(outcomes: AppendOutcome[]): void
  reject(error: unknown): void
}

const clientLogger =
  (onClientLog: KafkaTelemetryLogOptions['onClientLog']) =>
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
 * The telemetry log on Kafka: records are messages of one topic, keyed by stream so each
 * stream stays in one partition (Kafka's default partitioner: murmur2 of the key) and keeps its
 * order; positions are offsets within a partition. Appends go through an idempotent producer
 * with acks=all and resolve once the broker acknowledged them. One send is in flight at a time
 * and carries every append that arrived meanwhile (the idempotent producer keeps its sequence
 * numbers that way).
 *
 * Kafka has no conditional appends, so an id is not checked against earlier records at append
 * time: a re-sent id is appended again, and the projections drop it by (stream, id).
 */
export async function openKafkaTelemetryLog(options: KafkaTelemetryLogOptions): Promise<KafkaTelemetryLog> {
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
    for (let attempt = 1; ; attempt++) {
      try {
        const offsets = await withTimeout(admin.fetchTopicOffsets(topic), appendTimeoutMs, 'reading offsets')
        const marks = new Array<number>(partitions).fill(0)
        for (const entry of offsets) marks[entry.partition] = Number(entry[which])
        return marks
      } catch (error) {
        // A partition between leaders (just created, or a broker restarting) answers a retriable
        // error for a moment: asked again shortly, it answers.
        const retriable = error instanceof kafkajs.KafkaJSError && error.retriable
        if (!retriable || attempt >= WATERMARK_ATTEMPTS) throw unavailable('reading offsets', error)
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt))
      }
    }
  }
  const partitionHeads = () => watermarks('high')

  const lease = (group: string, sessionTimeoutMs?: number): KafkaPartitionLease => {
    const created = createKafkaPartitionLease({
      kafka,
      topic,
      groupId: group,
      partitionHeads,
      ...(sessionTimeoutMs ? { sessionTimeoutMs } : {}),
    })
    leases.push(created)
    return created
  }
  // Exact reads go through a member of a group of its own, which holds every partition.
  let reader: KafkaPartitionLease | null = null
  const ownReader = () => {
    reader ??= lease(`hourglass-reader-${randomUUID()}`)
    return reader
  }

  return {
    topic,
    partitionOf,
    partitionCount: () => partitions,
    partitionHeads,
    readPartition: (partition, from, limit) => ownReader().readPartition(partition, from, limit),
    lease: (leaseOptions) => lease(leaseOptions.group, leaseOptions.sessionTimeoutMs),
    stats: () => ({ sends }),
    // Above 0 once retention has deleted records: a rebuild from offset 0 needs every one to be 0.
    partitionStarts: () => watermarks('low'),
    async groupMembers(group) {
      try {
        const described = await withTimeout(
          admin.describeGroups([group]),
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

/**
 * Whether a failure came from the Kafka client itself. kafkajs (2.2.4) lets some retried
 * connection failures escape as unhandled rejections while a broker is down; the same failures
 * reach the callers too (an append answers 503; a consumer restarts).
 */
export const isKafkaClientError = (reason: unknown): boolean => reason instanceof kafkajs.KafkaJSError
