import { setImmediate as nextTurn } from 'node:timers/promises'
import type { PartitionLease, TelemetryLog, TelemetryRecord } from '@hourglass/log'

/** Longest a poll of the leading lane waits for records, shared among the partitions held. */
export const POLL_WAIT_MS = 200
/** Records per read of a range read ahead: short turns of the event loop between the batch's own steps. */
const READ_AHEAD_CHUNK = 5_000
/** How long a range read ahead is kept for the lane that has not asked for it yet. */
const UNCLAIMED_READ_AHEAD_MS = 60_000

export interface ReadRecords {
  readonly records: readonly TelemetryRecord[]
  /** Where the next read starts. */
  readonly next: number
}

export interface LaneReaderOptions {
  /** The log, read directly behind the frontier (without moving the lease). */
  readonly log: Pick<TelemetryLog, 'readPartition'>
  /** The worker's share of the partitions, read at the frontier. */
  readonly lease: Pick<PartitionLease, 'poll' | 'readPartition' | 'assigned'>
  /** Most records per batch of the leading lane. */
  readonly batchSize: number
  /** Most records per batch of a lane behind the others. */
  readonly rebuildBatchSize: number
  /** A short batch at the frontier waits until its first record is this old (0: never). */
  readonly lingerMs: number
}

/**
 * How the lanes of a partition get their records: the leading lane polls the lease (and lingers
 * for more when there are few), a lane behind the others (a generation being rebuilt) reads the
 * log in large ranges up to the frontier, and a batch settled longer than what was read is
 * completed from the lease's own connection.
 */
export function createLaneReader(options: LaneReaderOptions) {
  const { log, lease, batchSize, rebuildBatchSize, lingerMs } = options

  /** Records at the frontier, through the lease; lingering for more when there are few. */
  const atFrontier = async (
    partition: number,
    from: number,
    signal: AbortSignal,
    patient: boolean,
  ): Promise<ReadRecords> => {
    const waitMs = patient ? Math.ceil(POLL_WAIT_MS / Math.max(1, lease.assigned().length)) : 0
    const polled = await lease.poll(partition, from, batchSize, waitMs, signal)
    const first = polled.records[0]
    if (!first || lingerMs === 0 || polled.records.length >= batchSize) return polled
    const wait = lingerMs - (Date.now() - first.recordedAt)
    if (wait <= 0) return polled
    await sleep(Math.min(wait, lingerMs), signal)
    const more = await lease.poll(partition, polled.next, batchSize - polled.records.length, 0, signal)
    return { records: [...polled.records, ...more.records], next: more.next }
  }

  /**
   * The next range of a lane behind the frontier, read ahead in chunks while the range before it
   * is projected: a rebuild's inserts leave this thread waiting on the warehouse, and reading the
   * log is most of what is left of its own work. At most one range is read ahead.
   */
  let ahead: { partition: number; from: number; records: Promise<TelemetryRecord[]> } | null = null

  /** A range, read a chunk per turn of the event loop so that the batch before it goes on meanwhile. */
  const readInChunks = async (partition: number, from: number) => {
    const out: TelemetryRecord[] = []
    let next = from
    while (out.length < rebuildBatchSize) {
      await nextTurn()
      const chunk = await log.readPartition(
        partition,
        next,
        Math.min(READ_AHEAD_CHUNK, rebuildBatchSize - out.length),
      )
      if (chunk.length === 0) break
      for (const record of chunk) out.push(record)
      next = chunk[chunk.length - 1]!.position + 1
    }
    return out
  }

  const readAhead = (partition: number, from: number) => {
    const records = readInChunks(partition, from)
    // A read ahead that fails is read again when asked for.
    records.catch(() => {})
    const read = { partition, from, records }
    ahead = read
    // A lane that never asks for it (its build cancelled, its partition taken away) does not keep
    // its records alive.
    setTimeout(() => {
      if (ahead === read) ahead = null
    }, UNCLAIMED_READ_AHEAD_MS).unref()
  }

  /** Records behind the frontier (a lane being rebuilt), read without moving the lease. */
  const behind = async (partition: number, from: number, frontierAt: number): Promise<ReadRecords> => {
    const pending = ahead
    ahead = null
    const taken = pending?.partition === partition && pending.from === from ? pending.records : null
    // One read of the log at a time: a read ahead of another range (the lane started again
    // elsewhere) ends before this one starts.
    if (pending && !taken) await pending.records.catch(() => {})
    let records = taken ? await taken.catch(() => null) : null
    if (records === null) records = await log.readPartition(partition, from, rebuildBatchSize)
    else if (records.length < rebuildBatchSize) {
      // Read ahead up to what the log held then: what it has taken in since is read now.
      const resumeAt = records.length > 0 ? records[records.length - 1]!.position + 1 : from
      records = records.concat(
        await log.readPartition(partition, resumeAt, rebuildBatchSize - records.length),
      )
    }
    const below = records.filter((record) => record.position < frontierAt)
    // The range up to the frontier is read out when less than a batch came back, or some of it lies beyond.
    const exhausted = records.length < rebuildBatchSize || below.length < records.length
    const next = exhausted ? frontierAt : below[below.length - 1]!.position + 1
    if (!exhausted) readAhead(partition, next)
    return { records: below, next }
  }

  /**
   * The records of a range behind the frontier, [from, to), `size` at a time (a streamed batch:
   * each chunk is let go before the next is read). Without moving the lease.
   */
  async function* chunks(
    partition: number,
    from: number,
    to: number,
    size: number,
  ): AsyncGenerator<TelemetryRecord[]> {
    // One read of the log at a time: a range read ahead ends first, and is not wanted any more.
    const pending = ahead
    ahead = null
    if (pending) await pending.records.catch(() => {})
    let next = from
    while (next < to) {
      const chunk = await log.readPartition(partition, next, size)
      const within =
        chunk.length > 0 && chunk[chunk.length - 1]!.position >= to
          ? chunk.filter((record) => record.position < to)
          : chunk
      if (within.length === 0) return
      next = within[within.length - 1]!.position + 1
      yield within
    }
  }

  /** Every record of a held partition at positions [from, to), through the lease's own connection. */
  const range = async (partition: number, from: number, to: number) => {
    const out: TelemetryRecord[] = []
    let next = from
    while (next < to) {
      const page = (await lease.readPartition(partition, next, Math.min(batchSize, to - next))).filter(
        (record) => record.position < to,
      )
      if (page.length === 0) break
      out.push(...page)
      next = page[page.length - 1]!.position + 1
    }
    return out
  }

  return { atFrontier, behind, chunks, range }
}

export type LaneReader = ReturnType<typeof createLaneReader>

/** Waits `ms`, or less when the signal aborts. */
export const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
