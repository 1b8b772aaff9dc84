import { randomUUID } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { type Database, open, type RootDatabase } from 'lmdb'
import { idKey, trackAppendedIds } from './appendedIds.ts'
import type {
  ControlRecord,
  ControlStore,
  ExpectedRevision,
  NewControlRecord,
  StreamAppendOutcome,
} from './controlStore.ts'
import { LogClosedError } from './logErrors.ts'
import type {
  AppendOutcome,
  NewTelemetryRecord,
  PartitionLease,
  PolledRecords,
  TelemetryLog,
  TelemetryRecord,
} from './telemetryLog.ts'

export interface EmbeddedLogOptions {
  /** Folder of the log's LMDB environment; created if missing. */
  readonly path: string
  /**
   * How often a waiting reader looks for records appended by another process (a projection
   * worker reading a log that a separate ingest process writes). Appends made through this
   * instance wake readers at once.
   */
  readonly pollIntervalMs?: number
  /**
   * How many of the most recent records appended through this instance are kept decoded in
   * memory, so that readers tailing the log (every projection) take them without decoding.
   */
  readonly recentRecords?: number
  /**
   * Fewest ids the in-memory filter in front of the id index is sized for (it grows with the
   * log). Lower only to exercise the growth in tests.
   */
  readonly idFilterCapacity?: number
}

/** The telemetry half of the embedded log: one partition, 0. */
export interface EmbeddedTelemetryLog extends TelemetryLog {
  /** The position the next record of either kind will take: partition 0's head. */
  head(): Promise<number>
  /** Commits made so far: concurrent appends share one, which is what makes them cheap. */
  stats(): {
    commits: number
    head: number
    /** The filter in front of the id index: filled from the file at the first append, then kept current. */
    idFilter: { state: 'idle' | 'filling' | 'ready' | 'off'; capacity: number }
  }
}

/**
 * One LMDB environment behind two ports: telemetry records and control records take their
 * positions from one sequence, so the control store's order and the telemetry partition's
 * interleave. Closing either port closes both.
 */
export interface EmbeddedLog {
  readonly telemetry: EmbeddedTelemetryLog
  readonly control: ControlStore
  close(): Promise<void>
}

/**
 * How a record is stored: short keys keep the log compact. `r` is null for telemetry. A record
 * with a string that is not well-formed Unicode (a lone surrogate) keeps its stream, id, type and
 * data as one JSON text in `j` instead: msgpack writes strings as UTF-8, which has no encoding for
 * a lone surrogate and would read back U+FFFD in its place, while the record appended moments
 * before is still read from memory as it was sent. JSON escapes it, so both copies agree.
 */
interface StoredRecord {
  s: string
  r: number | null
  i: string
  t: string
  d: unknown
  at: number
  j?: string
}

/** The ES2024 method Node has had since 20; the TypeScript lib here is ES2023, which lacks it. */
const wellFormed = (value: string) => (value as string & { isWellFormed(): boolean }).isWellFormed()

/** Whether every string and key in `value` is well-formed: the common case, checked natively. */
const wellFormedJson = (value: unknown): boolean => {
  if (typeof value === 'string') return wellFormed(value)
  if (typeof value !== 'object' || value === null) return true
  if (Array.isArray(value)) {
    for (const item of value) if (!wellFormedJson(item)) return false
    return true
  }
  for (const key in value) {
    if (!wellFormed(key) || !wellFormedJson((value as Record<string, unknown>)[key])) return false
  }
  return true
}

/** A record as it is stored (see `StoredRecord`). */
const toStored = (s: string, r: number | null, i: string, t: string, d: unknown, at: number): StoredRecord =>
  wellFormed(s) && wellFormed(i) && wellFormed(t) && wellFormedJson(d)
    ? { s, r, i, t, d, at }
    : { s: '', r, i: '', t: '', d: null, at, j: JSON.stringify([s, i, t, d]) }

/** The stream, id, type and data of a stored record, from `j` where it has one. */
const fieldsOf = (stored: StoredRecord): { s: string; i: string; t: string; d: unknown } => {
  if (stored.j === undefined) return stored
  const [s, i, t, d] = JSON.parse(stored.j) as [string, string, string, unknown]
  return { s, i, t, d }
}

const ONLY_PARTITION: readonly number[] = [0]

/** A record of either kind as this log hands it out. */
type AnyRecord = TelemetryRecord | ControlRecord

const isControl = (record: AnyRecord): record is ControlRecord =>
  (record as Partial<ControlRecord>).revision !== undefined

const toRecord = (position: number, stored: StoredRecord): AnyRecord => {
  const { s, i, t, d } = fieldsOf(stored)
  return stored.r === null
    ? { position, stream: s, id: i, type: t, data: d, recordedAt: stored.at }
    : { position, stream: s, revision: stored.r, id: i, type: t, data: d, recordedAt: stored.at }
}

type Work =
  | { kind: 'events'; records: readonly NewTelemetryRecord[]; done: Settle<AppendOutcome[]> }
  | {
      kind: 'stream'
      stream: string
      records: readonly NewControlRecord[]
      expected: ExpectedRevision
      done: Settle<StreamAppendOutcome>
    }

interface Settle<T> {
  resolve(value: T): void
  reject(error: unknown): void
}

/**
 * The log in an embedded LMDB environment (one file, crash-safe, fsync on commit).
 * Appends that arrive while a commit is being prepared share that commit (group commit),
 * so durability costs one fsync per batch of requests, not one per request.
 */
export function createEmbeddedLog(options: EmbeddedLogOptions): EmbeddedLog {
  mkdirSync(options.path, { recursive: true })
  const env: RootDatabase = open({ path: options.path, noSync: false, overlappingSync: false, maxDbs: 8 })
  // Records share their msgpack structures (field names) in one entry instead of each carrying
  // its own: half the bytes, and encoding and decoding about twice as fast. Records written
  // before, each with its structure inline, read the same.
  const records: Database<StoredRecord, number> = env.openDB({
    name: 'records',
    sharedStructuresKey: Symbol.for('structures'),
  })
  const ids: Database<number, [string, string]> = env.openDB({ name: 'ids' })
  const streams: Database<number, [string, number]> = env.openDB({ name: 'streams' })
  const streamHeads: Database<number, string> = env.openDB({ name: 'stream-heads' })
  const control: Database<string, number> = env.openDB({ name: 'control' })

  const storedHead = () => {
    for (const key of records.getKeys({ reverse: true, limit: 1 })) return key + 1
    return 0
  }
  let head = storedHead()
  /** Where this process's own appends end: a stored head past it means another process appended. */
  let ownHead = head
  const appendedIds = trackAppendedIds(ids, { minCapacity: options.idFilterCapacity })
  const pollIntervalMs = options.pollIntervalMs ?? 250
  let commits = 0
  let closed = false
  let queue: Work[] = []
  /** A commit is due or under way: appends arriving meanwhile wait for the next one. */
  let scheduled = false
  /** The commit under way, which close waits for. */
  let committing: Promise<void> | null = null
  const waiters = new Set<{ position: number; wake: () => void }>()
  // Records appended through this instance, by position modulo the window: several projections
  // tail the same records moments after they were written, and decoding each of them again per
  // reader costs more than everything else a projection does. Records are immutable.
  const recentSize = options.recentRecords ?? 32_768
  const recent: (AnyRecord | undefined)[] = new Array(recentSize)
  const remember = (record: AnyRecord) => {
    if (recentSize > 0) recent[record.position % recentSize] = record
  }
  const fromFile = (position: number) => {
    const value = records.get(position)
    return value === undefined ? undefined : toRecord(position, value)
  }
  const recalled = (position: number) => {
    const record = recentSize > 0 ? recent[position % recentSize] : undefined
    return record?.position === position ? record : undefined
  }

  const enqueue = <T>(make: (done: Settle<T>) => Work): Promise<T> => {
    if (closed) return Promise.reject(new LogClosedError())
    return new Promise<T>((resolve, reject) => {
      queue.push(make({ resolve, reject }))
      if (!scheduled) {
        scheduled = true
        setImmediate(startCommit)
      }
    })
  }

  /**
   * Writes every queued append in one LMDB transaction, then settles them all once it is
   * durable. This thread only decides positions and duplicates (reads) and encodes the writes;
   * LMDB's write thread applies them, commits and syncs, so the next group can form meanwhile.
   * One commit at a time: each starts from what the previous one made durable.
   */
  async function commit() {
    const work = queue
    queue = []
    if (work.length === 0) return
    // Another process (a command run while no server ran) may have appended since.
    const fileHead = storedHead()
    // Its ids are in the file but not in the filter: refill it, and look every id up meanwhile.
    if (fileHead !== ownHead) appendedIds.refill()
    let next = Math.max(head, fileHead)
    const now = Date.now()
    const results: unknown[] = []
    const written: AnyRecord[] = []
    /** Ids and stream heads this group writes: not yet readable from the file. */
    const groupIds = new Map<string, number>()
    const groupHeads = new Map<string, number | null>()
    try {
      // Nothing in the body throws on validated records (plain JSON values encode): a batch
      // cannot be abandoned half-written the way a transaction aborts.
      await env.batch(() => {
        for (const item of work) {
          if (item.kind === 'events') {
            const outcomes: AppendOutcome[] = []
            for (const record of item.records) {
              const key: [string, string] = [record.stream, record.id]
              const groupKey = idKey(record.stream, record.id)
              // Most ids are new, and the filter says so without reading the id index.
              const taken =
                groupIds.get(groupKey) ?? (appendedIds.mayHave(groupKey) ? ids.get(key) : undefined)
              if (taken !== undefined) {
                outcomes.push({ status: 'duplicate', position: taken })
                continue
              }
              const position = next++
              const stored = toStored(record.stream, null, record.id, record.type, record.data, now)
              records.put(position, stored)
              ids.put(key, position)
              groupIds.set(groupKey, position)
              appendedIds.added(groupKey)
              written.push(toRecord(position, stored))
              outcomes.push({ status: 'appended', position })
            }
            results.push(outcomes)
          } else {
            const current = groupHeads.has(item.stream)
              ? groupHeads.get(item.stream)!
              : (streamHeads.get(item.stream) ?? null)
            const ok =
              item.expected === 'any' ||
              (item.expected === 'no-stream' ? current === null : current === item.expected)
            if (!ok || item.records.length === 0) {
              results.push(
                ok
                  ? { status: 'appended', firstPosition: next, revision: current ?? -1 }
                  : { status: 'conflict', actualRevision: current },
              )
              continue
            }
            const firstPosition = next
            let revision = current ?? -1
            for (const record of item.records) {
              revision += 1
              const position = next++
              const stored = toStored(item.stream, revision, randomUUID(), record.type, record.data, now)
              records.put(position, stored)
              written.push(toRecord(position, stored))
              streams.put([item.stream, revision], position)
              control.put(position, item.stream)
            }
            streamHeads.put(item.stream, revision)
            groupHeads.set(item.stream, revision)
            results.push({ status: 'appended', firstPosition, revision })
          }
        }
      })
    } catch (error) {
      for (const item of work) item.done.reject(error)
      return
    }
    commits += 1
    head = Math.max(head, next)
    ownHead = next
    appendedIds.afterCommit()
    for (const record of written) remember(record)
    for (const [index, item] of work.entries()) (item.done as Settle<unknown>).resolve(results[index])
    for (const waiter of waiters) if (waiter.position < head) waiter.wake()
  }

  /**
   * One commit at a time: appends that arrive while one is syncing share the next, so the number
   * of fsyncs follows the disk's pace rather than the number of requests.
   */
  function startCommit() {
    committing = commit().finally(() => {
      committing = null
      if (queue.length > 0 && !closed) setImmediate(startCommit)
      else scheduled = false
    })
  }

  /**
   * The first `limit` telemetry records at positions `>= from`, skipping control records.
   * Synchronous, so that every read it makes sees one snapshot of the file.
   */
  const readTelemetry = (from: number, limit: number): TelemetryRecord[] => {
    const out: TelemetryRecord[] = []
    if (limit <= 0) return out
    let next = from
    for (let record = recalled(next); record && out.length < limit; record = recalled(++next)) {
      if (!isControl(record)) out.push(record)
    }
    /** Past the last record read, of either kind. */
    let seen = next
    if (out.length < limit) {
      for (const { key, value } of records.getRange({ start: next })) {
        seen = key + 1
        if (value.r !== null) continue
        out.push(recalled(key) ?? toRecord(key, value))
        if (out.length === limit) break
      }
    }
    if (seen > from) head = Math.max(head, seen)
    return out
  }

  /** Resolves once a record at `position` may exist, after at most `maxWaitMs`, or on abort or close. */
  const waitFor = (position: number, maxWaitMs: number, signal?: AbortSignal) =>
    new Promise<void>((resolve) => {
      if (closed || signal?.aborted) return resolve()
      // The next read must not come in this turn of the event loop: LMDB renews its read
      // snapshot on the next one.
      if (position < head) return setImmediate(resolve)
      const waiter = {
        position,
        wake: () => {
          clearTimeout(timer)
          waiters.delete(waiter)
          signal?.removeEventListener('abort', waiter.wake)
          resolve()
        },
      }
      const timer = setTimeout(waiter.wake, maxWaitMs)
      waiters.add(waiter)
      signal?.addEventListener('abort', waiter.wake, { once: true })
    })

  /**
   * Telemetry records from `from` on. `next` moves past control records too: the head is read
   * before the records, so no telemetry record can still take a position below it that the
   * read did not see.
   */
  const pollTelemetry = async (
    from: number,
    limit: number,
    waitMs: number,
    signal: AbortSignal | undefined,
    leaseClosed: () => boolean,
  ): Promise<PolledRecords> => {
    const deadline = Date.now() + waitMs
    for (;;) {
      if (closed || leaseClosed()) return { records: [], next: from }
      const before = storedHead()
      const found = readTelemetry(from, limit)
      if (found.length > 0) {
        const past = found[found.length - 1]!.position + 1
        return { records: found, next: found.length < limit ? Math.max(past, before) : past }
      }
      const left = deadline - Date.now()
      if (left <= 0 || signal?.aborted) return { records: found, next: Math.max(from, before) }
      await waitFor(Math.max(from, before), Math.min(left, pollIntervalMs), signal)
    }
  }

  /** Open leases by group: the embedded log's only reader group members live in this process. */
  const groups = new Map<string, Set<string>>()
  const leases = new Set<() => void>()

  const lease = (group: string): PartitionLease => {
    let memberId: string | null = null
    let left = false
    const leave = () => {
      left = true
      if (memberId !== null) groups.get(group)?.delete(memberId)
      leases.delete(leave)
      // Its polls end now; the other waiters look again and wait on.
      for (const waiter of waiters) waiter.wake()
    }
    leases.add(leave)
    return {
      async start() {
        if (memberId !== null || left) return
        memberId = randomUUID()
        const members = groups.get(group) ?? new Set<string>()
        groups.set(group, members.add(memberId))
      },
      assigned: () => ONLY_PARTITION,
      memberId: () => memberId,
      poll: async (partition, from, limit, waitMs, signal) =>
        partition === 0
          ? pollTelemetry(from, limit, waitMs, signal, () => left)
          : { records: [], next: from },
      readPartition: async (partition, from, limit) => (partition === 0 ? readTelemetry(from, limit) : []),
      // The runtime's checkpoints are what counts; a group of one has no one to tell.
      commit: async () => {},
      close: async () => leave(),
    }
  }

  const currentHead = async () => (head = Math.max(head, storedHead()))

  async function close() {
    if (closed) return
    closed = true
    for (const leave of [...leases]) leave()
    appendedIds.close()
    await committing
    if (queue.length > 0) await commit()
    for (const waiter of waiters) waiter.wake()
    await env.close()
  }

  const telemetry: EmbeddedTelemetryLog = {
    appendEvents: (batch) =>
      batch.length === 0
        ? Promise.resolve([])
        : enqueue((done) => ({ kind: 'events', records: batch, done })),
    partitionCount: () => 1,
    partitionOf: () => 0,
    readPartition: async (partition, from, limit) => (partition === 0 ? readTelemetry(from, limit) : []),
    partitionHeads: async () => [await currentHead()],
    partitionStarts: async () => [0],
    lease: (leaseOptions) => lease(leaseOptions.group),
    groupMembers: async (group) => [...(groups.get(group) ?? [])],
    head: currentHead,
    stats: () => ({
      commits,
      head,
      idFilter: { state: appendedIds.state(), capacity: appendedIds.capacity() },
    }),
    close,
  }

  const controlStore: ControlStore = {
    appendToStream: (stream, batch, expected) =>
      enqueue((done) => ({ kind: 'stream', stream, records: batch, expected, done })),
    async readStream(stream, fromRevision = 0) {
      const out: ControlRecord[] = []
      for (const { value: position } of streams.getRange({
        start: [stream, fromRevision],
        end: [stream, Number.MAX_SAFE_INTEGER],
      })) {
        const record = recalled(position) ?? fromFile(position)
        if (record && isControl(record)) out.push(record)
      }
      return out
    },
    async readAll(from, limit) {
      const out: ControlRecord[] = []
      for (const position of control.getKeys({ start: from, limit })) {
        const record = recalled(position) ?? fromFile(position)
        if (record && isControl(record)) out.push(record)
      }
      return out
    },
    close,
  }

  return {
    telemetry,
    control: controlStore,
    close,
  }
}
