import type { EventLog, LogRecord } from '@hourglass/log'
import type { Logger } from 'pino'
import { createBatchRepair } from './batchRepair.ts'
import type { CheckpointStore } from './checkpointStore.ts'
import { type Projection, projectionKey } from './projection.ts'
import { insertDeduplicated, type Warehouse } from './warehouse.ts'
import { changeOf, EVERYTHING_CHANGES, type WarehouseChangeListener } from './warehouseChanges.ts'

export interface ProjectionRunnerOptions {
  readonly log: EventLog
  readonly warehouse: Warehouse
  readonly checkpoints: CheckpointStore
  readonly projection: Projection
  readonly logger: Logger
  /** Most log records in one batch (one insert per table). */
  readonly batchSize?: number
  /** How long a small batch waits for more records (fewer, larger inserts under load). */
  readonly lingerMs?: number
  /** Hears, around each batch and reset, which hours it writes (a cache of answers invalidates them). */
  readonly changes?: WarehouseChangeListener
}

export interface ProjectionStatus {
  readonly projection: string
  readonly generation: number
  /** Every log record before this position is in the warehouse. */
  readonly committed: number
  readonly head: number
  readonly lag: number
  readonly running: boolean
  readonly lastError: string | null
}

export interface ReplayProgress {
  readonly committed: number
  readonly target: number
}

export interface ProjectionRunner {
  start(): Promise<void>
  close(): Promise<void>
  status(): Promise<ProjectionStatus>
  /** Resolves once every record before `position` is in the warehouse. */
  caughtUpTo(position: number, signal?: AbortSignal): Promise<void>
  /** Empties the projection's tables and rebuilds them from position 0 up to the current head. */
  replay(onProgress?: (progress: ReplayProgress) => void): Promise<ProjectionStatus>
}

const RETRY_MIN_MS = 200
/** Longest time a running projection goes without saving where it stands. */
const IDLE_SAVE_MS = 5_000
const CAUGHT_UP_SAVE_MS = 1_000
const RETRY_MAX_MS = 10_000

/**
 * Runs one projection: reads the log from its checkpoint in batches and applies each batch
 * exactly once in effect. Before a batch is written its range is saved as pending; after a
 * crash the runner first repairs that exact range: what of it is missing is written, what
 * its views hold is recomputed (`createBatchRepair`). A batch written the first time carries
 * deduplication tokens derived from its range as well.
 */
export function createProjectionRunner(options: ProjectionRunnerOptions): ProjectionRunner {
  const { log, warehouse, checkpoints, projection, logger } = options
  const key = projectionKey(projection)
  const batchSize = options.batchSize ?? 5000
  const log_ = logger.child({ projection: key })

  let committed = 0
  let generation = 0
  let lastError: string | null = null
  let lastSaved = Date.now()
  let savedCommitted = 0
  const saveCommitted = async () => {
    const position = committed
    await checkpoints.save(key, { committed: position, pending: null, generation })
    savedCommitted = position
  }
  let abort: AbortController | null = null
  let loop: Promise<void> | null = null
  const listeners = new Set<() => void>()

  const notify = () => {
    for (const listener of listeners) listener()
  }

  /**
   * Applies one batch. `beforeFirstInsert` runs once, just before the batch's first insert:
   * that is where its range is saved as pending. A batch that inserts nothing (most batches of
   * a projection whose records are rare) costs no checkpoint write at all.
   *
   * A batch in doubt (pending when the projection stopped, or after a failed attempt) is
   * repaired rather than written again under its tokens: see `createBatchRepair`.
   */
  const applyBatch = async (
    records: readonly LogRecord[],
    inDoubt: boolean,
    beforeFirstInsert?: () => Promise<void>,
  ) => {
    const from = records[0]!.position
    const to = records[records.length - 1]!.position + 1
    const repair = inDoubt ? createBatchRepair(warehouse, { from, to }, log_) : null
    let n = 0
    const change = options.changes && changeOf(records)
    if (change) options.changes?.changing(change)
    try {
      await projection.apply(records, {
        warehouse,
        insert: async (table, rows) => {
          if (rows.length === 0) return
          if (n === 0) await beforeFirstInsert?.()
          const token = `${key}:g${generation}:${from}-${to}:${table}:${n++}`
          if (repair) await repair.insert(table, rows, token)
          else await insertDeduplicated(warehouse, table, rows, token)
        },
      })
      await repair?.finish()
    } finally {
      if (change) options.changes?.changed(change)
    }
  }

  /**
   * Retries a step until it succeeds or the runner stops: an unwritten batch is never skipped.
   * The step learns whether an earlier attempt failed (and so may have written part of it).
   */
  const persistently = async (what: string, step: (retry: boolean) => Promise<void>, signal: AbortSignal) => {
    let delay = RETRY_MIN_MS
    for (let attempt = 0; ; attempt++) {
      try {
        await step(attempt > 0)
        lastError = null
        return
      } catch (error) {
        if (signal.aborted) throw error
        lastError = error instanceof Error ? error.message : String(error)
        const retryable = !(error instanceof Error && 'retryable' in error && error.retryable === false)
        log_.error({ err: error, step: what, retryInMs: retryable ? delay : null }, 'projection step failed')
        if (!retryable) throw error
        await new Promise((resolve) => setTimeout(resolve, delay))
        delay = Math.min(delay * 2, RETRY_MAX_MS)
      }
    }
  }

  const run = async (signal: AbortSignal) => {
    await persistently(
      'load checkpoint',
      async () => {
        const checkpoint = await checkpoints.load(key)
        committed = checkpoint.committed
        generation = checkpoint.generation
        if (checkpoint.pending) {
          const { from, to } = checkpoint.pending
          const records = await log.read(from, to - from)
          log_.info({ from, to }, 'repairing the batch that was in flight when the projection stopped')
          if (records.length > 0) await applyBatch(records, true)
          committed = to
          await checkpoints.save(key, { committed, pending: null, generation })
        }
      },
      signal,
    )
    notify()
    for await (const batch of log.subscribe(committed, {
      batchSize,
      lingerMs: options.lingerMs ?? 0,
      signal,
    })) {
      const from = batch[0]!.position
      const to = batch[batch.length - 1]!.position + 1
      await persistently(
        'apply batch',
        (retry) =>
          applyBatch(batch, retry, () =>
            checkpoints.save(key, { committed: from, pending: { from, to }, generation }),
          ),
        signal,
      )
      committed = to
      notify()
      // A later batch's pending mark also commits this one. Otherwise the position is saved at
      // most once a second when caught up (the warehouse takes one statement at a time, and
      // small batches under load would each cost one), and at least every few seconds.
      const sinceSaved = Date.now() - lastSaved
      if (sinceSaved > IDLE_SAVE_MS || (sinceSaved > CAUGHT_UP_SAVE_MS && (await log.head()) === to)) {
        lastSaved = Date.now()
        await persistently('save checkpoint', saveCommitted, signal)
      }
    }
  }

  const start = async () => {
    if (loop) return
    const controller = new AbortController()
    abort = controller
    loop = run(controller.signal).catch((error: unknown) => {
      if (!controller.signal.aborted) {
        lastError = error instanceof Error ? error.message : String(error)
        log_.fatal({ err: error }, 'projection stopped')
      }
    })
  }

  const close = async () => {
    const wasRunning = loop !== null
    abort?.abort()
    await loop
    loop = null
    abort = null
    // Leave the position where a restart (or `hourglass status`) will find it.
    if (wasRunning && committed > savedCommitted) {
      try {
        await saveCommitted()
      } catch (error) {
        log_.warn(
          { err: error, committed },
          'could not save the position on close; a restart reads a little further back',
        )
      }
    }
    notify()
  }

  const status = async (): Promise<ProjectionStatus> => {
    const head = await log.head()
    return {
      projection: key,
      generation,
      committed,
      head,
      lag: Math.max(0, head - committed),
      running: loop !== null,
      lastError,
    }
  }

  const caughtUpTo = (position: number, signal?: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (committed >= position) done(resolve)
        else if (signal?.aborted) done(() => reject(signal.reason))
      }
      const done = (settle: () => void) => {
        listeners.delete(check)
        signal?.removeEventListener('abort', check)
        settle()
      }
      listeners.add(check)
      signal?.addEventListener('abort', check)
      check()
    })

  const replay = async (onProgress?: (progress: ReplayProgress) => void) => {
    await close()
    const checkpoint = await checkpoints.load(key)
    generation = Math.max(generation, checkpoint.generation) + 1
    options.changes?.changing(EVERYTHING_CHANGES)
    try {
      await projection.reset(warehouse)
    } finally {
      options.changes?.changed(EVERYTHING_CHANGES)
    }
    committed = 0
    await checkpoints.save(key, { committed: 0, pending: null, generation })
    const target = await log.head()
    log_.info({ generation, target }, 'replaying projection from position 0')
    const report = () => onProgress?.({ committed: Math.min(committed, target), target })
    listeners.add(report)
    try {
      await start()
      await caughtUpTo(target)
    } finally {
      listeners.delete(report)
    }
    report()
    return status()
  }

  return { start, close, status, caughtUpTo, replay }
}
