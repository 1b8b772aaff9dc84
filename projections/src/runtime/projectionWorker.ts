import type { PartitionLease, TelemetryLog, TelemetryRecord } from '@hourglass/log'
import { telemetryStream } from '@hourglass/schemas'
import type { Logger } from 'pino'
import { personOf } from '../erasure.ts'
import { type BatchContext, type Projection, projectionKey } from '../projection.ts'
import type { Warehouse } from '../warehouse/warehouse.ts'
import type { BatchLedger, SettledBatch } from './batchLedger.ts'
import { type BuildingStatus, buildingStatus } from './buildingStatus.ts'
import type { CheckpointStore } from './checkpointStore.ts'
import { followControl, IDLE_REFRESH_MS } from './controlFollower.ts'
import type { ControlOrder } from './controlOrder.ts'
import { type ControlRecordSource, createControlView } from './controlView.ts'
import { createErasureSteps } from './erasureSteps.ts'
import { createLaneReader, POLL_WAIT_MS, sleep } from './laneReader.ts'
import { frontier, type Lane, lanesOf, type PartitionState } from './lanes.ts'
import { createQuarantineSteps, type RedriveOutcome, type RedriveRequest } from './quarantineSteps.ts'
import { createQuarantineStore } from './quarantineStore.ts'
import { createReplayFollower } from './replayFollower.ts'
import { writeStreamed } from './streamedWrite.ts'
import { addChange, changeOf, EVERYTHING_CHANGES, type WarehouseChangeListener } from './warehouseChanges.ts'

export interface BatchReport {
  readonly partition: number
  readonly from: number
  readonly to: number
  /** Records counted (re-sent ids and erased people left out). */
  readonly fresh: number
  readonly insertMs: number
}

export interface ProjectionStatus {
  /** The projection's name. */
  readonly projection: string
  /** `name@vN`: its checkpoints' key. */
  readonly key: string
  readonly generation: number
  /** Records below these positions are in the warehouse (summed over the partitions). */
  readonly committed: number
  readonly head: number
  readonly lag: number
  /** False while a replay has stopped it. */
  readonly running: boolean
  /** The next generation, while one is built beside the serving one. */
  readonly building: BuildingStatus | null
  readonly lastError: string | null
  /** When the runtime's batches began to fail, without a success since (ISO time); null while they succeed. */
  readonly stalledSince: string | null
  /** Records set aside for this projection and not yet re-driven or dropped. */
  readonly quarantined: number
  /** Failed attempts at batches since the worker started. */
  readonly failures: number
}

export interface ProjectionWorkerOptions {
  /** The telemetry log: reads behind the lease (lanes being rebuilt), heads, partitions. */
  readonly log: TelemetryLog
  /** This worker's share of the log's partitions. */
  readonly lease: PartitionLease
  /** Definitions and erasures. */
  readonly control: ControlRecordSource
  readonly warehouse: Warehouse
  readonly checkpoints: CheckpointStore
  readonly projections: readonly Projection[]
  /** How batches are made exactly-once: a single writer's pending ranges, or a group's claims. */
  readonly ledger: BatchLedger
  /** Where control records fall among a partition's records. */
  readonly order: ControlOrder
  /** The log's name in the runtime's bookkeeping rows (the Kafka topic). */
  readonly topic: string
  readonly logger: Logger
  /** Most records per batch. */
  readonly batchSize?: number
  /**
   * Most records per batch of a lane behind the others (a generation being rebuilt): bulk work,
   * with none of the freshness a live batch is for. At least `batchSize`.
   */
  readonly rebuildBatchSize?: number
  /**
   * A batch smaller than `batchSize` is held until its first record is this old (milliseconds
   * since the log recorded it), gathering what arrives meanwhile: fewer, larger inserts under
   * load, at most this much later. 0 hands over what there is at once.
   */
  readonly lingerMs?: number
  /** Called once a batch is in the warehouse. */
  readonly onBatch?: (report: BatchReport) => void
  /** Hears, around every write, which hours it changes (a cache of answers drops what goes stale). */
  readonly changes?: WarehouseChangeListener
  /**
   * A step of the worker (a turn of its partitions, erasures, re-drives) that has run this long
   * without finishing is reported as stalled: a statement the warehouse never answers holds up
   * every projection of the worker, and must not pass for a quiet log. Five minutes unless told.
   */
  readonly hungAfterMs?: number
}

export interface ProjectionWorker {
  start(): Promise<void>
  close(): Promise<void>
  /** Per partition this worker holds: the next position to project, once known (its furthest lane's). */
  positions(): ReadonlyMap<number, number>
  /** Each projection's place in the partitions this worker holds. */
  status(): Promise<ProjectionStatus[]>
  /**
   * Resolves once the projection has applied every record below `heads[p]` of each partition p
   * (this worker must hold them), or rejects when the signal aborts.
   */
  caughtUp(projection: string, heads: readonly number[], signal?: AbortSignal): Promise<void>
  /** Whether `caughtUp` would resolve at once: a check that sets up no wait (no listener, no timer). */
  hasApplied(projection: string, heads: readonly number[]): boolean
  /**
   * Applies quarantined records of the partitions this worker holds again (between two batches),
   * each counted once; what still fails stays held.
   */
  redrive(request: RedriveRequest): Promise<RedriveOutcome[]>
  readonly lastError: string | null
}

/** Records per batch of a lane being rebuilt, unless told otherwise. */
const REBUILD_BATCH_SIZE = 50_000
/**
 * A batch applied a chunk at a time (see streamedWrite.ts) spans this many rebuild batches'
 * positions, with an insert per rebuild batch's rows: one batch's bookkeeping for two inserts,
 * the first written while the rows of the second are read (`npm run bench -- replay`: inserts of
 * half as many rows, or four per batch, gave no more). The serving lane's next batch waits for
 * it: about half a second on a two-core machine.
 */
const STREAMED_BATCHES = 2
/**
 * Records per chunk of a streamed batch (fewer when an insert takes fewer): what is alive at once
 * while a chunk is applied, which each collection of the young generation copies (measured:
 * chunks of 500–1,000 records cost about two thirds of what chunks of 5,000 did).
 */
const STREAMED_CHUNK = 1_000
const RETRY_MIN_MS = 200
const RETRY_MAX_MS = 5_000
/** Longest a partition's turn spends on lanes being rebuilt before the leading one goes. */
const CATCH_UP_MS = 500
/** A step running longer than this is reported as stalled (far longer than any healthy one). */
const HUNG_AFTER_MS = 300_000

/**
 * The one projection runtime, for every log. A worker holds a share of the log's partitions (the
 * embedded log has one, which its one worker always holds; Kafka's are leased through the
 * consumer group) and runs every projection over them. In each partition the projections form
 * lanes by where they stand: projections that are level share each batch, read once; a lane
 * behind the others (being rebuilt) catches up over the same batches, faster than the leading
 * one moves, and merges with it.
 *
 * What differs between logs sits behind two interfaces: the ledger (how a batch is made
 * exactly-once) and the control order (where definitions and erasures fall among a partition's
 * records). Erasures are applied by the erasure steps (erasureSteps.ts); replays are followed
 * by replayFollower.ts; records are read by laneReader.ts. What is left here is the loop: turns
 * of the partitions held, one batch at a time, and the retry of a failed batch.
 */
export function createProjectionWorker(options: ProjectionWorkerOptions): ProjectionWorker {
  const { log, lease, warehouse, projections, order, logger } = options
  const batchSize = options.batchSize ?? 10_000
  const rebuildBatchSize = Math.max(batchSize, options.rebuildBatchSize ?? REBUILD_BATCH_SIZE)
  const streamedSpan = rebuildBatchSize * STREAMED_BATCHES
  const streamedInsertRows = rebuildBatchSize
  const streamedChunk = Math.min(STREAMED_CHUNK, streamedInsertRows)
  const lingerMs = options.lingerMs ?? 0
  const log_ = logger.child({ topic: options.topic })
  const view = createControlView(options.control)
  const partitions = new Map<number, PartitionState>()
  const positions = new Map<number, number>()
  const listeners = new Set<() => void>()
  let completedAt = Number.NEGATIVE_INFINITY
  let lastError: string | null = null
  let stalledSince: number | null = null
  /** When the step under way began (null between steps): a step that never ends is a hang. */
  let stepSince: number | null = null
  /** The step whose hang has been logged: each is logged once. */
  let hangLogged: number | null = null
  let watchdog: NodeJS.Timeout | null = null
  const hungAfterMs = options.hungAfterMs ?? HUNG_AFTER_MS
  let failures = 0
  /** Re-drives asked for, run by the loop between two batches. */
  const redrives: { request: RedriveRequest; settle: (outcome: Promise<RedriveOutcome[]>) => void }[] = []
  /** The next attempt at a batch follows a failed one, which may have written part of it. */
  let retrying = false
  let abort: AbortController | null = null
  let loop: Promise<void> | null = null

  const notify = () => {
    for (const listener of listeners) listener()
  }
  const reader = createLaneReader({ log, lease, batchSize, rebuildBatchSize, lingerMs })
  const refreshControl = followControl(view, log_)

  const erasures = createErasureSteps({
    warehouse,
    topic: options.topic,
    projections,
    view,
    order,
    partitionCount: log.partitionCount(),
    ownsScope: (partition) => (scope) => log.partitionOf(telemetryStream(scope)) === partition,
    beforeErase: async (partition) => partitions.get(partition)?.ledger.flush(),
    changes: options.changes,
    logger: log_,
  })

  const quarantineStore = createQuarantineStore(warehouse)
  const quarantine = createQuarantineSteps({
    warehouse,
    store: quarantineStore,
    projections,
    view,
    order,
    topic: options.topic,
    readRecord: async (partition, position) => {
      const [record] = await lease.readPartition(partition, position, 1)
      return record?.position === position ? record : null
    },
    laneOf: (partition, key) => partitions.get(partition)?.lanes.get(key) ?? null,
    changes: options.changes,
    logger: log_,
  })

  /** Runs the re-drives asked for since the last batch. */
  const runRedrives = async () => {
    for (const { request, settle } of redrives.splice(0)) {
      const outcome = quarantine.redrive(request, [...partitions.keys()])
      settle(outcome)
      // A failure is the caller's to see; the loop goes on with its batches.
      await outcome.catch((error: unknown) =>
        log_.warn({ err: error }, 're-drive of quarantined records failed'),
      )
    }
  }

  const completeErasures = async () => {
    completedAt = performance.now()
    await erasures.complete(replays.servingGenerations())
  }

  const loadLane = async (state: PartitionState, projection: Projection): Promise<Lane> => {
    const key = projectionKey(projection)
    const start = await state.ledger.resume(key)
    return {
      projection,
      key,
      generation: start.generation,
      committed: start.committed,
      applied: await erasures.appliedIn(key, start.generation, state.partition),
    }
  }

  /** Every table of the projection may have changed (a generation switched in or out). */
  const everythingChanged = () => {
    options.changes?.changing(EVERYTHING_CHANGES)
    options.changes?.changed(EVERYTHING_CHANGES)
  }

  const replays = createReplayFollower({
    warehouse,
    projections,
    partitions: () => partitions.values(),
    loadLane,
    memberId: () => lease.memberId(),
    // A lane resumed from its new checkpoint may already stand where a caller waits for it.
    onSwitched: () => {
      everythingChanged()
      notify()
    },
    logger: log_,
  })
  const stopped = replays.stopped

  // --- Batches -------------------------------------------------------------------------------

  const openPartition = async (partition: number): Promise<PartitionState> => {
    const state: PartitionState = {
      partition,
      ledger: await options.ledger.open(partition),
      lanes: new Map(),
    }
    await replays.open(state)
    await order.load(partition)
    return state
  }

  /** Settles every lane's write, then fails with the first failure: no write is left running behind a retry. */
  const allSettled = async (work: Promise<void>[]) => {
    const outcomes = await Promise.allSettled(work)
    const failed = outcomes.find((outcome) => outcome.status === 'rejected')
    if (failed) throw failed.reason
  }

  /**
   * A batch of one lane behind the frontier, applied a chunk of records at a time (see
   * streamedWrite.ts), each chunk's hours told to the listener before it is applied.
   */
  const streamBatch = async (
    state: PartitionState,
    lane: Lane,
    batch: SettledBatch,
    keep: (records: readonly TelemetryRecord[]) => readonly TelemetryRecord[],
    definitionOf: BatchContext['definitionOf'],
  ) => {
    const marked = { everything: false, hours: new Map<string, Map<string, Set<number>>>() }
    let counted = 0
    const { changes } = options
    async function* chunks() {
      for await (const read of reader.chunks(state.partition, batch.from, batch.to, streamedChunk)) {
        const kept = keep(read)
        if (kept.length === 0) continue
        counted += kept.length
        const added = changes ? addChange(marked, changeOf(kept)) : null
        if (added) changes?.changing(added)
        yield kept
      }
    }
    try {
      const outcome = await writeStreamed({
        ledger: state.ledger,
        lane,
        batch,
        chunks: chunks(),
        definitionOf,
        warehouse,
        insertRows: streamedInsertRows,
      })
      if (outcome.status !== 'written') {
        log_.debug(
          { err: outcome.reason, projection: lane.key, partition: state.partition, ...batch },
          `a streamed batch is written again as objects (${outcome.status === 'partly' ? 'after part of it went out' : 'nothing of it went out'})`,
        )
      }
      return { status: outcome.status, counted }
    } finally {
      // Each as it was told: hours first told one by one, everything once.
      if (marked.hours.size > 0) changes?.changed({ everything: false, hours: marked.hours })
      if (marked.everything) changes?.changed(EVERYTHING_CHANGES)
    }
  }

  /** Whether a batch of `lane` behind the frontier can be applied a chunk at a time (see streamedWrite.ts). */
  const streams = (state: PartitionState, lane: readonly Lane[]) =>
    !retrying &&
    warehouse.encodes &&
    state.ledger.keepsEveryRecord &&
    lane.length === 1 &&
    lane[0]!.projection.appliesInChunks === true

  /**
   * One batch for the lanes at position `from`, after the erasures that fall at `from` (also with
   * nothing to read: an idle partition's cut is its head). False when there was nothing to read.
   */
  const projectBatch = async (
    state: PartitionState,
    lane: readonly Lane[],
    from: number,
    signal: AbortSignal,
    patient = true,
  ) => {
    const { partition } = state
    if (await erasures.applyDue(partition, lane, from)) await completeErasures()
    const leading = from >= frontier(state)
    // A streamed batch spans a range of positions, read as it is applied.
    const streamed = !leading && streams(state, lane)
    const read = leading
      ? await reader.atFrontier(partition, from, signal, patient)
      : streamed
        ? { records: null, next: Math.min(from + streamedSpan, frontier(state)) }
        : await reader.behind(partition, from, frontier(state))
    if (signal.aborted) return false
    if (read.records?.length === 0 && read.next <= from) {
      // Nothing new: the moment for a ledger that defers saving positions to save them.
      if (leading) for (const l of lane) await state.ledger.advance(l, from, true)
      return false
    }
    const started = performance.now()
    // Read after the records: every control record appended before they reached the log is below it.
    const controlHead = await refreshControl(true)
    await order.place(partition, view.erasures())
    // An erasure the view learnt of just now may fall right here: it goes before the batch.
    if (await erasures.applyDue(partition, lane, from)) await completeErasures()
    const nextCut = Math.min(
      ...view
        .erasures()
        .map((erasure) => order.cutOf(partition, erasure))
        .filter((cut) => cut > from),
    )
    const proposed = Math.min(read.next, nextCut)
    const caughtUp = leading && read.records !== null && read.records.length < batchSize
    let batch = { from, to: proposed, cut: controlHead }
    let counted = 0
    if (read.records === null || read.records.some((record) => record.position < proposed)) {
      batch = await state.ledger.settle(
        from,
        proposed,
        controlHead,
        lane.map((l) => l.key),
      )
      if (view.head() < batch.cut) {
        await refreshControl(true)
        await order.place(partition, view.erasures())
        if (view.head() < batch.cut)
          throw new Error(`the control store ends at ${view.head()}, before the cut ${batch.cut} of a batch`)
      }
      const erased = erasures.erasedPeople(partition, from)
      const keep = (records: readonly TelemetryRecord[]) =>
        erased.size === 0
          ? records
          : records.filter((record) => {
              const person = personOf(record)
              return person === null || !erased.has(person)
            })
      const definitionOf = order.definitions(view, batch.cut)
      const outcome = streamed ? await streamBatch(state, lane[0]!, batch, keep, definitionOf) : null
      if (outcome?.status === 'written') counted = outcome.counted
      else {
        let records: TelemetryRecord[]
        if (read.records === null) records = await reader.range(partition, batch.from, batch.to)
        else {
          records = read.records.filter((record) => record.position < batch.to)
          if (batch.to > read.next) records.push(...(await reader.range(partition, read.next, batch.to)))
        }
        const kept = keep(await state.ledger.fresh(batch, records, batch.to > frontier(state)))
        counted = kept.length
        if (kept.length > 0) {
          const change = options.changes ? changeOf(kept) : null
          if (change) options.changes?.changing(change)
          try {
            const retry = retrying || outcome?.status === 'partly'
            await allSettled(
              lane.map((l) =>
                quarantine.writeLane(state.ledger, partition, l, batch, kept, definitionOf, retry),
              ),
            )
          } finally {
            if (change) options.changes?.changed(change)
          }
        }
      }
    }
    const { to } = batch
    for (const l of lane) {
      await state.ledger.advance(l, to, caughtUp)
      l.committed = to
    }
    if (to >= frontier(state)) {
      positions.set(partition, to)
      try {
        await lease.commit(partition, to)
      } catch (error) {
        // After a rebalance the group refuses this member's commit; the checkpoints, which are
        // what workers resume from, have already moved.
        log_.warn({ err: error, partition, offset: to }, 'consumer group offset not committed')
      }
    }
    notify()
    options.onBatch?.({ partition, from, to, fresh: counted, insertMs: performance.now() - started })
    return true
  }

  /**
   * One turn of a partition. Lanes behind the others go first, batch after batch for up to
   * CATCH_UP_MS, the furthest behind first; then one batch of the leading lane.
   */
  const turn = async (state: PartitionState, signal: AbortSignal) => {
    await refreshControl(false)
    await order.place(state.partition, view.erasures())
    const started = performance.now()
    let lanes = lanesOf(state)
    while (lanes.length > 1 && performance.now() - started < CATCH_UP_MS && !signal.aborted) {
      const [from, lane] = lanes[0]!
      if (!(await projectBatch(state, lane, from, signal))) break
      lanes = lanesOf(state)
    }
    const leading = lanes[lanes.length - 1]
    // No lane here (every projection let go of for a switch): wait as an idle poll would, rather
    // than spin through the loop and keep the switch itself from its turns of the event loop.
    if (!leading) await sleep(Math.ceil(POLL_WAIT_MS / Math.max(1, lease.assigned().length)), signal)
    // While a lane catches up, the leading one takes what there is without waiting for more.
    if (leading && !signal.aborted)
      await projectBatch(state, leading[1], leading[0], signal, lanes.length === 1)
    if (!positions.has(state.partition)) positions.set(state.partition, frontier(state))
  }

  const run = async (signal: AbortSignal) => {
    await lease.start()
    let assignment: readonly number[] = []
    let delay = RETRY_MIN_MS
    let first = true
    while (!signal.aborted) {
      stepSince = Date.now()
      try {
        await replays.follow(first)
        first = false
        const current = lease.assigned()
        if (current !== assignment) {
          // A new assignment: lanes are read again from the checkpoints.
          for (const state of partitions.values()) await state.ledger.flush()
          assignment = current
          partitions.clear()
          positions.clear()
          log_.info({ partitions: current }, 'partitions assigned')
        }
        if (assignment.length === 0) {
          await sleep(POLL_WAIT_MS, signal)
          continue
        }
        for (const partition of assignment) {
          if (signal.aborted) break
          let state = partitions.get(partition)
          if (!state) {
            state = await openPartition(partition)
            partitions.set(partition, state)
          }
          await turn(state, signal)
        }
        if (performance.now() - completedAt > IDLE_REFRESH_MS) await completeErasures()
        await runRedrives()
        stepSince = null
        lastError = null
        stalledSince = null
        retrying = false
        delay = RETRY_MIN_MS
      } catch (error) {
        stepSince = null
        if (signal.aborted) return
        lastError = error instanceof Error ? error.message : String(error)
        stalledSince ??= Date.now()
        failures++
        log_.error({ err: error, retryInMs: delay }, 'projection batch failed; retrying it')
        // Lanes are read again; a batch that failed half-way is written again over the same range.
        partitions.clear()
        retrying = true
        await sleep(delay, signal)
        delay = Math.min(delay * 2, RETRY_MAX_MS)
      }
    }
  }

  /** The step under way, when it has run too long: what `status` and readiness report instead. */
  const hang = () => {
    if (stepSince === null) return null
    const seconds = Math.round((Date.now() - stepSince) / 1000)
    if (Date.now() - stepSince < hungAfterMs) return null
    const message = `a step of the projection worker has run for ${seconds} s without finishing: the warehouse may not be answering a statement`
    if (hangLogged !== stepSince) log_.error({ since: new Date(stepSince).toISOString() }, message)
    hangLogged = stepSince
    return { since: stepSince, message }
  }

  const status = async (): Promise<ProjectionStatus[]> => {
    const hung = hang()
    const since = hung?.since ?? stalledSince
    const heads = await log.partitionHeads()
    const held = lease.assigned()
    const quarantined = await quarantineStore.heldCounts()
    return Promise.all(
      projections.map(async (projection) => {
        const key = projectionKey(projection)
        let committed = 0
        let head = 0
        let generation = 0
        for (const partition of held) {
          const lane = partitions.get(partition)?.lanes.get(key)
          const checkpoint = lane ?? (await options.checkpoints.load(key, partition))
          committed += checkpoint.committed
          generation = Math.max(generation, checkpoint.generation)
          head += Math.max(heads[partition] ?? 0, checkpoint.committed)
        }
        return {
          projection: projection.name,
          key,
          generation,
          committed,
          head,
          lag: Math.max(0, head - committed),
          running: loop !== null && !stopped(key),
          building: await buildingStatus(options.checkpoints, projection, replays.replayOf(key), heads),
          lastError: hung?.message ?? lastError,
          stalledSince: since === null ? null : new Date(since).toISOString(),
          quarantined: quarantined.get(key) ?? 0,
          failures,
        }
      }),
    )
  }

  const applied = (key: string, heads: readonly number[]) =>
    heads.every(
      (head, partition) => head === 0 || (partitions.get(partition)?.lanes.get(key)?.committed ?? -1) >= head,
    )

  const hasApplied = (name: string, heads: readonly number[]) => {
    const projection = projections.find((p) => p.name === name)
    return projection !== undefined && applied(projectionKey(projection), heads)
  }

  const caughtUp = (name: string, heads: readonly number[], signal?: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      const projection = projections.find((p) => p.name === name)
      if (!projection) return reject(new Error(`this worker does not run projection "${name}"`))
      const key = projectionKey(projection)
      const check = () => {
        if (applied(key, heads)) settle(resolve)
        else if (signal?.aborted) settle(() => reject(signal.reason))
      }
      const settle = (then: () => void) => {
        listeners.delete(check)
        signal?.removeEventListener('abort', check)
        then()
      }
      listeners.add(check)
      signal?.addEventListener('abort', check)
      check()
    })

  return {
    positions: () => positions,
    status,
    caughtUp,
    hasApplied,
    redrive: (request) =>
      new Promise<RedriveOutcome[]>((resolve, reject) => {
        if (!loop) return reject(new Error('the projection worker is not running'))
        redrives.push({ request, settle: (outcome) => outcome.then(resolve, reject) })
      }),
    get lastError() {
      return lastError
    },
    async start() {
      if (loop) return
      const controller = new AbortController()
      abort = controller
      loop = run(controller.signal).catch((error: unknown) => {
        lastError = error instanceof Error ? error.message : String(error)
        log_.fatal({ err: error }, 'projection worker stopped')
      })
      // Says so in the log when a step hangs, whether or not anyone asks for the status.
      watchdog = setInterval(hang, Math.min(hungAfterMs, 10_000))
      watchdog.unref()
    },
    async close() {
      if (watchdog) clearInterval(watchdog)
      watchdog = null
      abort?.abort()
      await loop
      for (const { settle } of redrives.splice(0))
        settle(Promise.reject(new Error('the projection worker stopped before the re-drive')))
      loop = null
      abort = null
      // Leave the positions where a restart (or `hourglass status`) will find them.
      for (const state of partitions.values()) {
        try {
          await state.ledger.flush()
        } catch (error) {
          log_.warn(
            { err: error, partition: state.partition },
            'could not save positions on close; a restart reads a little further back',
          )
        }
      }
      await lease.close()
      notify()
    },
  }
}
