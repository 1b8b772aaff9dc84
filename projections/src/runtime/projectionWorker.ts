import {
  LogUnavailableError,
  type PartitionLease,
  type TelemetryLog,
  type TelemetryRecord,
} from '@hourglass/log'
import { telemetryStream } from '@hourglass/schemas'
import type { Logger } from 'pino'
import { personOf } from '../erasure.ts'
import { type Projection, projectionKey } from '../projection.ts'
import type { Warehouse } from '../warehouse/warehouse.ts'
import type { BatchLedger, LaneKey, PartitionLedger } from './batchLedger.ts'
import { type BuildingStatus, buildingStatus } from './buildingStatus.ts'
import type { CheckpointStore } from './checkpointStore.ts'
import type { ControlOrder } from './controlOrder.ts'
import { type ControlRecordSource, createControlView } from './controlView.ts'
import { createErasureSteps, type ErasingLane } from './erasureSteps.ts'
import { buildingLane, laneKeysOf } from './generationLanes.ts'
import { createQuarantineSteps, type RedriveOutcome, type RedriveRequest } from './quarantineSteps.ts'
import { createQuarantineStore } from './quarantineStore.ts'
import { acknowledgeReplay, loadReplayStates, type ReplayState } from './replay.ts'
import { changeOf, EVERYTHING_CHANGES, type WarehouseChangeListener } from './warehouseChanges.ts'

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
  /**
   * Applies quarantined records of the partitions this worker holds again (between two batches),
   * each counted once; what still fails stays held.
   */
  redrive(request: RedriveRequest): Promise<RedriveOutcome[]>
  readonly lastError: string | null
}

/** Records per batch of a lane being rebuilt, unless told otherwise. */
const REBUILD_BATCH_SIZE = 50_000
const RETRY_MIN_MS = 200
const RETRY_MAX_MS = 5_000
/** How often an idle worker looks for new control records (erasures) and replay requests. */
const IDLE_REFRESH_MS = 1_000
/** Longest a partition's turn spends on lanes being rebuilt before the leading one goes. */
const CATCH_UP_MS = 500
/** Longest a poll of the leading lane waits for records, shared among the partitions held. */
const POLL_WAIT_MS = 200

/** One projection at one generation, where it stands in one partition. */
interface Lane extends ErasingLane, LaneKey {
  committed: number
}

interface PartitionState {
  readonly partition: number
  readonly ledger: PartitionLedger
  /** By projection key; a projection whose replay is requested has none (it is stopped). */
  readonly lanes: Map<string, Lane>
}

interface ReadRecords {
  readonly records: readonly TelemetryRecord[]
  readonly next: number
}

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
 * records). Erasures are applied by the erasure steps (erasureSteps.ts); replays follow the
 * protocol of replay.ts.
 */
export function createProjectionWorker(options: ProjectionWorkerOptions): ProjectionWorker {
  const { log, lease, warehouse, projections, order, logger } = options
  const batchSize = options.batchSize ?? 10_000
  const rebuildBatchSize = Math.max(batchSize, options.rebuildBatchSize ?? REBUILD_BATCH_SIZE)
  const lingerMs = options.lingerMs ?? 0
  const log_ = logger.child({ topic: options.topic })
  const view = createControlView(options.control)
  const partitions = new Map<number, PartitionState>()
  const positions = new Map<number, number>()
  const listeners = new Set<() => void>()
  let replays = new Map<string, ReplayState>()
  let replaysReadAt = Number.NEGATIVE_INFINITY
  let controlReadAt = Number.NEGATIVE_INFINITY
  let completedAt = Number.NEGATIVE_INFINITY
  const acknowledged = new Set<string>()
  let lastError: string | null = null
  let stalledSince: number | null = null
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
  const stopped = (key: string) => replays.get(key)?.stage === 'switching'

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

  /** The generation each projection serves at: its lanes' here, else its latest replay's; null when stopped. */
  const servingGenerations = () => {
    const serving = new Map<string, number | null>()
    for (const projection of projections) {
      const key = projectionKey(projection)
      if (stopped(key)) {
        serving.set(key, null)
        continue
      }
      const replay = replays.get(key)
      let generation = replay?.stage === 'serving' ? replay.generation : 0
      for (const state of partitions.values())
        generation = Math.max(generation, state.lanes.get(key)?.generation ?? 0)
      serving.set(key, generation)
    }
    return serving
  }

  const completeErasures = async () => {
    completedAt = performance.now()
    await erasures.complete(servingGenerations())
  }

  // --- Control records and replays -----------------------------------------------------------

  /**
   * Brings the control view up to date (at most once a second unless forced). While the control
   * store does not answer, batches go on with the view as followed so far: its head is their cut,
   * so whatever is read later (an erasure, say) comes after them, as if appended after them.
   */
  let controlAway = false
  const refreshControl = async (force: boolean) => {
    if (!force && performance.now() - controlReadAt < IDLE_REFRESH_MS) return view.head()
    try {
      const head = await view.refresh()
      controlReadAt = performance.now()
      if (controlAway) log_.info('the control store answers again')
      controlAway = false
      return head
    } catch (error) {
      if (!(error instanceof LogUnavailableError)) throw error
      if (!controlAway)
        log_.warn(
          { err: error },
          'the control store does not answer; projecting with the control records read so far',
        )
      controlAway = true
      return view.head()
    }
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

  /**
   * A projection about to switch generations: every lane's position is saved (the switch starts
   * the serving generation where the built one stands), its lanes are dropped from every
   * partition, and the worker acknowledges. This runs between two steps of the loop, so none of
   * its writes is in flight.
   */
  const letGo = async (projection: Projection, replay: ReplayState) => {
    const key = projectionKey(projection)
    for (const state of partitions.values()) {
      await state.ledger.flush()
      for (const laneKey of laneKeysOf(projection, replay)) state.lanes.delete(laneKey)
    }
    const memberId = lease.memberId()
    const ack = `${key}:${replay.generation}:${memberId}`
    if (memberId && !acknowledged.has(ack)) {
      await acknowledgeReplay(warehouse, key, replay.generation, memberId)
      acknowledged.add(ack)
      log_.info(
        { projection: key, generation: replay.generation },
        'generation switching: projection stopped',
      )
    }
  }

  /** Brings a partition's lanes of the projection in line with its generations. */
  const alignLanes = async (state: PartitionState, projection: Projection, replay: ReplayState) => {
    const key = projectionKey(projection)
    const built = buildingLane(projection, replay)
    for (const laneKey of [...state.lanes.keys()])
      if (laneKey.startsWith(`${projection.name}~g`) && laneKey !== built?.key) state.lanes.delete(laneKey)
    if (built && !state.lanes.has(built.key)) {
      state.lanes.set(built.key, await loadLane(state, built.projection))
      log_.info(
        { projection: key, generation: replay.generation, partition: state.partition },
        'building the next generation beside the serving one',
      )
    }
    const lane = state.lanes.get(key)
    if (lane && (replay.stage !== 'serving' || lane.generation >= replay.generation)) return
    state.lanes.set(key, await loadLane(state, projection))
    if (replay.stage === 'serving') {
      everythingChanged()
      log_.info(
        { projection: key, generation: replay.generation, partition: state.partition },
        'generation switched: the projection resumes from its new checkpoint',
      )
    }
  }

  /**
   * Reads the generation states (at most once a second). A projection switching generations is
   * let go of; one building its next generation gets a lane for it; one whose new generation
   * serves is loaded again from its checkpoints.
   */
  const followReplays = async (force: boolean) => {
    if (!force && performance.now() - replaysReadAt < IDLE_REFRESH_MS) return
    replays = await loadReplayStates(warehouse)
    replaysReadAt = performance.now()
    for (const projection of projections) {
      const replay = replays.get(projectionKey(projection))
      if (!replay) continue
      if (replay.stage === 'switching') {
        await letGo(projection, replay)
        continue
      }
      for (const state of partitions.values()) await alignLanes(state, projection, replay)
    }
  }

  // --- Batches -------------------------------------------------------------------------------

  const openPartition = async (partition: number): Promise<PartitionState> => {
    const state: PartitionState = {
      partition,
      ledger: await options.ledger.open(partition),
      lanes: new Map(),
    }
    for (const projection of projections) {
      const key = projectionKey(projection)
      if (stopped(key)) continue
      state.lanes.set(key, await loadLane(state, projection))
      const built = buildingLane(projection, replays.get(key))
      if (built) state.lanes.set(built.key, await loadLane(state, built.projection))
    }
    await order.load(partition)
    return state
  }

  const frontier = (state: PartitionState) =>
    Math.max(0, ...[...state.lanes.values()].map((lane) => lane.committed))

  /** The lanes of a partition grouped by where they stand, furthest behind first. */
  const lanesOf = (state: PartitionState): [number, Lane[]][] => {
    const byPosition = new Map<number, Lane[]>()
    for (const lane of state.lanes.values())
      byPosition.set(lane.committed, [...(byPosition.get(lane.committed) ?? []), lane])
    return [...byPosition].sort(([a], [b]) => a - b)
  }

  /** Records at the frontier, through the lease; lingering for more when there are few. */
  const pollLeading = async (
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

  /** Records behind the frontier (a lane being rebuilt), read without moving the lease. */
  const readBehind = async (partition: number, from: number, frontierAt: number): Promise<ReadRecords> => {
    const records = await log.readPartition(partition, from, rebuildBatchSize)
    const below = records.filter((record) => record.position < frontierAt)
    // The range up to the frontier is read out when less than a batch came back, or some of it lies beyond.
    const exhausted = records.length < rebuildBatchSize || below.length < records.length
    return { records: below, next: exhausted ? frontierAt : below[below.length - 1]!.position + 1 }
  }

  /** Every record of a held partition at positions [from, to), through the lease's own connection. */
  const readRange = async (partition: number, from: number, to: number) => {
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

  /** Settles every lane's write, then fails with the first failure: no write is left running behind a retry. */
  const allSettled = async (work: Promise<void>[]) => {
    const outcomes = await Promise.allSettled(work)
    const failed = outcomes.find((outcome) => outcome.status === 'rejected')
    if (failed) throw failed.reason
  }

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
    const read = leading
      ? await pollLeading(partition, from, signal, patient)
      : await readBehind(partition, from, frontier(state))
    if (signal.aborted) return false
    if (read.records.length === 0 && read.next <= from) {
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
    const caughtUp = leading && read.records.length < batchSize
    let batch = { from, to: proposed, cut: controlHead }
    let kept: TelemetryRecord[] = []
    if (read.records.some((record) => record.position < proposed)) {
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
      const records = read.records.filter((record) => record.position < batch.to)
      if (batch.to > read.next) records.push(...(await readRange(partition, read.next, batch.to)))
      const fresh = await state.ledger.fresh(batch, records, batch.to > frontier(state))
      const erased = erasures.erasedPeople(partition, from)
      kept =
        erased.size === 0
          ? fresh
          : fresh.filter((record) => {
              const person = personOf(record)
              return person === null || !erased.has(person)
            })
      const definitionOf = order.definitions(view, batch.cut)
      if (kept.length > 0) {
        const change = options.changes ? changeOf(kept) : null
        if (change) options.changes?.changing(change)
        try {
          await allSettled(
            lane.map((l) =>
              quarantine.writeLane(state.ledger, partition, l, batch, kept, definitionOf, retrying),
            ),
          )
        } finally {
          if (change) options.changes?.changed(change)
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
    options.onBatch?.({ partition, from, to, fresh: kept.length, insertMs: performance.now() - started })
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
      try {
        await followReplays(first)
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
        lastError = null
        stalledSince = null
        retrying = false
        delay = RETRY_MIN_MS
      } catch (error) {
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

  const status = async (): Promise<ProjectionStatus[]> => {
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
          building: await buildingStatus(options.checkpoints, projection, replays.get(key), heads),
          lastError,
          stalledSince: stalledSince === null ? null : new Date(stalledSince).toISOString(),
          quarantined: quarantined.get(key) ?? 0,
          failures,
        }
      }),
    )
  }

  const caughtUp = (name: string, heads: readonly number[], signal?: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      const projection = projections.find((p) => p.name === name)
      if (!projection) return reject(new Error(`this worker does not run projection "${name}"`))
      const key = projectionKey(projection)
      const check = () => {
        const done = heads.every(
          (head, partition) =>
            head === 0 || (partitions.get(partition)?.lanes.get(key)?.committed ?? -1) >= head,
        )
        if (done) settle(resolve)
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
    },
    async close() {
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

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
