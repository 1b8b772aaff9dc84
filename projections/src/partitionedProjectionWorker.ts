import type { LogRecord, PartitionLease, TelemetryLog } from '@hourglass/log'
import { telemetryStream } from '@hourglass/schemas'
import type { Logger } from 'pino'
import { z } from 'zod'
import type { CheckpointStore } from './checkpointStore.ts'
import { type ControlRecordSource, type ControlView, createControlView } from './controlView.ts'
import { type Erasure, personOf } from './erasure.ts'
import { acknowledgeReplay, loadReplayStates, type ReplayState } from './partitionedReplay.ts'
import { type BatchContext, type ErasureContext, type Projection, projectionKey } from './projection.ts'
import { tables } from './tables.ts'
import { insertDeduplicated, type Warehouse } from './warehouse.ts'

export interface PartitionBatchReport {
  readonly partition: number
  readonly from: number
  readonly to: number
  /** Records counted (re-sent ids left out). */
  readonly fresh: number
  readonly insertMs: number
}

export interface PartitionedProjectionWorkerOptions {
  /** This worker's share of the log's partitions (a consumer-group member). */
  readonly lease: PartitionLease
  /**
   * The log the lease is of. Exact reads go to it (for projections that lag behind the others in
   * a partition, being rebuilt, so that they do not move the lease's own reading position back
   * and forth; and for the rest of a batch claimed longer than a poll gave), and so do questions
   * about its partitions.
   */
  readonly log: Pick<TelemetryLog, 'readPartition' | 'partitionHeads' | 'partitionCount' | 'partitionOf'>
  /** The log's name in the claims and cuts kept in the warehouse (the Kafka topic). */
  readonly topic: string
  readonly warehouse: Warehouse
  readonly checkpoints: CheckpointStore
  readonly projections: readonly Projection[]
  /** The group's name: claims are the group's, shared by all its workers. */
  readonly group: string
  readonly logger: Logger
  /**
   * The control-plane records (event definitions, erasures), which a partitioned log does not
   * hold. Absent: the projections see none.
   */
  readonly control?: ControlRecordSource
  /** Most records per batch. */
  readonly batchSize?: number
  /** Called once a batch is in the warehouse and checkpointed. */
  readonly onBatch?: (report: PartitionBatchReport) => void
}

export interface PartitionedProjectionWorker {
  start(): Promise<void>
  close(): Promise<void>
  /** Per partition this worker holds: the next offset to project, once known (its furthest projection's). */
  positions(): ReadonlyMap<number, number>
  readonly lastError: string | null
}

/** Batch boundaries and control cuts are permanent: every generation projects the same batches. */
const CLAIM_GENERATION = 0
const RETRY_MIN_MS = 200
const RETRY_MAX_MS = 5_000
/** How often an idle worker looks for new control records (erasures) and replay requests. */
const IDLE_REFRESH_MS = 1_000
/** Longest a partition's turn spends on projections being rebuilt before the leading ones go. */
const CATCH_UP_MS = 500
const END_OF_TIME = Number.MAX_SAFE_INTEGER

const ClaimRow = z.object({ to_offset: z.coerce.number().int(), control_cut: z.coerce.number().int() })
const IdRow = z.object({ stream: z.string(), id: z.string() })
const CutRow = z.object({ erasure_position: z.coerce.number().int(), cut: z.coerce.number().int() })
const PositionRow = z.object({ erasure_position: z.coerce.number().int() })
const EndRow = z.object({ end: z.coerce.number().int() })
const StepCountRow = z.object({
  erasure_position: z.coerce.number().int(),
  projection_name: z.string(),
  generation: z.coerce.number().int(),
  stage: z.enum(['counted', 'applied', 'completed']),
  partitions: z.coerce.number().int(),
  events: z.coerce.number().int(),
})

/** Where one projection stands in one partition. */
interface Lane {
  committed: number
  generation: number
  /** Control positions of the erasures applied in this partition at this generation. */
  readonly applied: Set<number>
}

interface PartitionState {
  readonly partition: number
  /** By projection key; a projection whose replay is requested has none (it is stopped). */
  readonly lanes: Map<string, Lane>
  /** Erasure position → the offset below which it covers the person's records in this partition. */
  readonly cuts: Map<number, number>
  /** The end of the furthest claim known: ranges below it are looked up before being claimed. */
  claimedEnd: number
}

const emptyControl: ControlRecordSource = { readAll: async () => [] }

/**
 * Runs projections over a partitioned log as one member of a group of workers, exactly once
 * in effect even when workers die, stall and come back after their partitions moved on:
 *
 * 1. A batch is one contiguous offset range of one partition. Its end is claimed in the
 *    warehouse under a deduplication token naming (group, topic, partition, first offset):
 *    the first claim of a range wins, and whoever projects that range later (a restarted
 *    worker, the new owner after a rebalance, a zombie that wakes up, a replay) reads the claim
 *    back and projects exactly that range. So a batch is the same batch whoever builds it.
 * 2. Re-sent ids are dropped deterministically: a record whose (stream, id) appears earlier in
 *    the log (an earlier offset of its partition: a stream lives in one partition) is skipped.
 * 3. Every insert carries a token of topic, partition, generation, range, projection, table and
 *    insert number: a batch written twice leaves the warehouse as if written once.
 * 4. Then the projections' checkpoints for that partition move (never backwards: see
 *    checkpointProgress), and only then the consumer group's offset is committed. A worker
 *    resumes from the warehouse checkpoint even if Kafka's committed offset is behind it.
 *
 * Control-plane records live in another log (the control service), with their own order.
 * Each partition merges them into its own order at points recorded in the warehouse:
 *
 * 5. Definitions: a claim also records the control log's head, read after the batch's records
 *    were polled (its control cut). Definitions below the cut apply to the batch: every
 *    definition appended before an event reached Kafka is below the cut of the event's batch,
 *    and every attempt at the batch, and every replay of it, uses the same cut.
 * 6. Erasures: the first worker of a partition to read an erasure records the partition's head
 *    (Kafka's high watermark, read after the erasure was appended) as the erasure's cut in that
 *    partition: every event acknowledged before the erasure request lies below it. Claims never
 *    straddle a cut. When a projection's position in the partition reaches the cut, the worker
 *    removes the person's rows of that partition's sources (`Projection.erase`) and records the
 *    step; from then on, a whole person's records beyond the cut are left out of every batch.
 *    Only the partition's worker writes its sources' rows, so recomputing a rollup hour never
 *    races with an insert into it. Once every erasing projection has done so in every partition,
 *    the erasure is complete and its report is written (`Projection.erasureCompleted`).
 *
 * A projection being replayed (see partitionedReplay.ts) is stopped in every worker until the
 * operator opens its new generation; it is then rebuilt from offset 0 beside the others (see
 * `turn`).
 */
export function createPartitionedProjectionWorker(
  options: PartitionedProjectionWorkerOptions,
): PartitionedProjectionWorker {
  const { lease, warehouse, checkpoints, projections, group, logger } = options
  const batchSize = options.batchSize ?? 5000
  const reader = options.log
  const topic = options.topic
  const log_ = logger.child({ group, topic })
  const view: ControlView = createControlView(options.control ?? emptyControl)
  const erasing = projections.filter((projection) => projection.erase)
  const reporting = projections.filter((projection) => projection.erasureCompleted)
  const partitions = new Map<number, PartitionState>()
  const positions = new Map<number, number>()
  let replays = new Map<string, ReplayState>()
  let replaysReadAt = Number.NEGATIVE_INFINITY
  let controlReadAt = Number.NEGATIVE_INFINITY
  const acknowledged = new Set<string>()
  /** `${key}:g${generation}:${erasure}`: erasures whose report this generation has written. */
  const completed = new Set<string>()
  let completedLoaded = false
  let completedAt = Number.NEGATIVE_INFINITY
  let lastError: string | null = null
  let abort: AbortController | null = null
  let loop: Promise<void> | null = null

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

  const query = async <T>(schema: z.ZodType<T>, sql: string, params: Record<string, unknown>) => {
    const result = await warehouse.client.query({
      query: sql,
      query_params: params,
      format: 'JSONEachRow',
      use_multipart_params: true,
    })
    return z.array(schema).parse(await result.json())
  }

  const insertWithToken =
    (token: string) =>
    (table: string, rows: readonly object[], n: number): Promise<void> =>
      insertDeduplicated(warehouse, table, rows, `${token}:${table}:${n}`)

  /** One bookkeeping row under a deduplication token: written again, it is not written twice. */
  const insertOnce = async (insert: { table: string; token: string; row: object }): Promise<void> => {
    await warehouse.client.insert({
      table: warehouse.table(insert.table),
      values: [insert.row],
      format: 'JSONEachRow',
      clickhouse_settings: {
        insert_deduplicate: 1,
        insert_deduplication_token: insert.token,
        async_insert: 0,
      },
    })
  }

  const ownsScope = (partition: number) => (scope: string) =>
    reader.partitionOf(telemetryStream(scope)) === partition

  /** The generation a projection's rows are written at now: its latest replay's, else 0. */
  const currentGeneration = (key: string) => replays.get(key)?.generation ?? 0
  const stopped = (key: string) => replays.get(key)?.stage === 'requested'

  // --- Replays -------------------------------------------------------------------------------

  const loadLane = async (key: string, partition: number): Promise<Lane> => {
    const checkpoint = await checkpoints.load(key, partition)
    const applied = await query(
      PositionRow,
      `SELECT DISTINCT erasure_position FROM ${warehouse.table(tables.erasureSteps)}
       WHERE topic = {topic:String} AND projection_name = {key:String} AND generation = {generation:UInt32}
         AND partition = {partition:UInt32} AND stage = 'applied'`,
      { topic, key, generation: checkpoint.generation, partition },
    )
    return {
      committed: checkpoint.committed,
      generation: checkpoint.generation,
      applied: new Set(applied.map((row) => row.erasure_position)),
    }
  }

  /**
   * Reads the replay requests (at most once a second). A projection whose replay is requested
   * is dropped from every partition and acknowledged: this runs between two steps of the loop,
   * so none of its writes is in flight. One whose new generation is open is loaded again.
   */
  const followReplays = async (force = false) => {
    if (!force && performance.now() - replaysReadAt < IDLE_REFRESH_MS) return
    replays = await loadReplayStates(warehouse)
    replaysReadAt = performance.now()
    for (const projection of projections) {
      const key = projectionKey(projection)
      const state = replays.get(key)
      if (!state) continue
      if (state.stage === 'requested') {
        for (const partition of partitions.values()) partition.lanes.delete(key)
        const memberId = lease.memberId()
        const ack = `${key}:${state.generation}:${memberId}`
        if (memberId && !acknowledged.has(ack)) {
          await acknowledgeReplay(warehouse, key, state.generation, memberId)
          acknowledged.add(ack)
          log_.info({ projection: key, generation: state.generation }, 'replay requested: projection stopped')
        }
        continue
      }
      for (const partition of partitions.values()) {
        const lane = partition.lanes.get(key)
        if (lane && lane.generation >= state.generation) continue
        partition.lanes.set(key, await loadLane(key, partition.partition))
        log_.info(
          { projection: key, generation: state.generation, partition: partition.partition },
          'replay open: rebuilding the projection from its new checkpoint',
        )
      }
    }
  }

  // --- Control records: cuts of erasures -----------------------------------------------------

  /** Brings the control view up to date at most once a second when nothing else asks for it. */
  const refreshControl = async (force: boolean) => {
    if (!force && performance.now() - controlReadAt < IDLE_REFRESH_MS) return view.head()
    const head = await view.refresh()
    controlReadAt = performance.now()
    return head
  }

  /** Records (first one wins) where each erasure not yet placed in this partition falls: its head now. */
  const placeErasures = async (state: PartitionState) => {
    const unplaced = view.erasures().filter((erasure) => !state.cuts.has(erasure.position))
    if (unplaced.length === 0) return
    const head = (await reader.partitionHeads())[state.partition] ?? 0
    for (const erasure of unplaced) {
      await insertOnce({
        table: tables.erasureCuts,
        token: `erasure-cut:${topic}:${state.partition}:${erasure.position}`,
        row: {
          topic,
          partition: state.partition,
          erasure_position: erasure.position,
          cut: head,
          recorded_at: Date.now(),
        },
      })
    }
    await loadCuts(
      state,
      unplaced.map((erasure) => erasure.position),
    )
  }

  const loadCuts = async (state: PartitionState, erasurePositions?: number[]) => {
    const rows = await query(
      CutRow,
      `SELECT erasure_position, argMin(cut, recorded_at) AS cut FROM ${warehouse.table(tables.erasureCuts)}
       WHERE topic = {topic:String} AND partition = {partition:UInt32}
         ${erasurePositions ? 'AND erasure_position IN {positions:Array(UInt64)}' : ''}
       GROUP BY erasure_position`,
      { topic, partition: state.partition, ...(erasurePositions ? { positions: erasurePositions } : {}) },
    )
    for (const row of rows) state.cuts.set(row.erasure_position, row.cut)
  }

  const cutOf = (state: PartitionState, erasure: Erasure) => {
    const cut = state.cuts.get(erasure.position)
    if (cut === undefined)
      throw new Error(`erasure ${erasure.position} has no cut in partition ${state.partition}`)
    return cut
  }

  // --- Erasure steps -------------------------------------------------------------------------

  const recordStep = (
    key: string,
    generation: number,
    partition: number,
    erasure: Erasure,
    stage: 'counted' | 'applied' | 'completed',
    events: number,
  ): Promise<void> =>
    insertOnce({
      table: tables.erasureSteps,
      token: `erasure:${topic}:${erasure.position}:${key}:g${generation}:${partition}:${stage}`,
      row: {
        topic,
        erasure_position: erasure.position,
        projection_name: key,
        generation,
        partition,
        stage,
        events,
        at: Date.now(),
      },
    })

  /** Applies, in control-log order, every erasure whose cut this lane has reached and not yet applied. */
  const applyDueErasures = async (state: PartitionState, lane: readonly Projection[], at: number) => {
    let applied = false
    for (const erasure of view.erasures()) {
      const cut = cutOf(state, erasure)
      if (cut > at) continue
      const placed: Erasure = { ...erasure, before: erasure.kind === 'events' ? cut : END_OF_TIME }
      for (const projection of lane) {
        const key = projectionKey(projection)
        const laneState = state.lanes.get(key)
        if (!projection.erase || !laneState || laneState.applied.has(erasure.position)) continue
        const token = `${topic}:${state.partition}:g${laneState.generation}:erasure${erasure.position}:${key}`
        const insert = insertWithToken(token)
        let n = 0
        const context: ErasureContext = {
          warehouse,
          insert: (table, rows) => insert(table, rows, n++),
          ownsScope: ownsScope(state.partition),
          report: (events) =>
            recordStep(key, laneState.generation, state.partition, erasure, 'counted', events),
        }
        await projection.erase(placed, context)
        await recordStep(key, laneState.generation, state.partition, erasure, 'applied', 0)
        laneState.applied.add(erasure.position)
        applied = true
        log_.info(
          { projection: key, partition: state.partition, erasure: erasure.position, cut },
          'erasure applied in partition',
        )
      }
    }
    if (applied) await completeErasures()
  }

  /**
   * Writes the report of every erasure that every erasing projection (at its current
   * generation) has applied in every partition. Whichever worker sees that first writes it;
   * the rows are the same whoever does, and deduplicated.
   */
  const completeErasures = async () => {
    completedAt = performance.now()
    if (reporting.length === 0 || erasing.length === 0) return
    if (!completedLoaded) {
      const rows = await query(
        StepCountRow,
        `SELECT erasure_position, projection_name, generation, stage, 0 AS partitions, 0 AS events
         FROM ${warehouse.table(tables.erasureSteps)}
         WHERE topic = {topic:String} AND stage = 'completed'`,
        { topic },
      )
      for (const row of rows)
        completed.add(`${row.projection_name}:g${row.generation}:${row.erasure_position}`)
      completedLoaded = true
    }
    const pending = view.erasures().filter((erasure) =>
      reporting.some((projection) => {
        const key = projectionKey(projection)
        return !stopped(key) && !completed.has(`${key}:g${currentGeneration(key)}:${erasure.position}`)
      }),
    )
    if (pending.length === 0) return
    const partitionCount = reader.partitionCount()
    const rows = await query(
      StepCountRow,
      `SELECT erasure_position, projection_name, generation, stage,
              uniqExact(partition) AS partitions, sum(events) AS events
       FROM ${warehouse.table(tables.erasureSteps)}
       WHERE topic = {topic:String} AND erasure_position IN {positions:Array(UInt64)} AND stage IN ('counted', 'applied')
       GROUP BY erasure_position, projection_name, generation, stage`,
      { topic, positions: pending.map((erasure) => erasure.position) },
    )
    const stepOf = (erasure: Erasure, key: string, stage: 'counted' | 'applied') =>
      rows.find(
        (row) =>
          row.erasure_position === erasure.position &&
          row.projection_name === key &&
          row.generation === currentGeneration(key) &&
          row.stage === stage,
      )
    for (const erasure of pending) {
      const everywhere = erasing.every((projection) => {
        const key = projectionKey(projection)
        return !stopped(key) && stepOf(erasure, key, 'applied')?.partitions === partitionCount
      })
      if (!everywhere) continue
      for (const projection of reporting) {
        const key = projectionKey(projection)
        const generation = currentGeneration(key)
        const insert = insertWithToken(`${topic}:g${generation}:erasure${erasure.position}:${key}:report`)
        let n = 0
        const context: BatchContext = { warehouse, insert: (table, rows) => insert(table, rows, n++) }
        await projection.erasureCompleted!(erasure, stepOf(erasure, key, 'counted')?.events ?? 0, context)
        await recordStep(key, generation, 0, erasure, 'completed', 0)
        completed.add(`${key}:g${generation}:${erasure.position}`)
      }
      log_.info({ erasure: erasure.position }, 'erasure complete in every partition')
    }
  }

  // --- Batches -------------------------------------------------------------------------------

  const loadPartition = async (partition: number): Promise<PartitionState> => {
    const state: PartitionState = { partition, lanes: new Map(), cuts: new Map(), claimedEnd: 0 }
    for (const projection of projections) {
      const key = projectionKey(projection)
      if (!stopped(key)) state.lanes.set(key, await loadLane(key, partition))
    }
    await loadCuts(state)
    const [end] = await query(
      EndRow,
      `SELECT max(to_offset) AS end FROM ${warehouse.table(tables.projectionBatches)}
       WHERE group_name = {group:String} AND topic = {topic:String} AND partition = {partition:UInt32}
         AND generation = {generation:UInt32}`,
      { group, topic, partition, generation: CLAIM_GENERATION },
    )
    state.claimedEnd = end?.end ?? 0
    return state
  }

  const findClaim = async (partition: number, from: number) => {
    const [row] = await query(
      ClaimRow,
      `SELECT to_offset, control_cut FROM ${warehouse.table(tables.projectionBatches)}
       WHERE group_name = {group:String} AND topic = {topic:String} AND partition = {partition:UInt32}
         AND generation = {generation:UInt32} AND from_offset = {from:UInt64}
       ORDER BY claimed_at, to_offset LIMIT 1`,
      { group, topic, partition, generation: CLAIM_GENERATION, from },
    )
    return row ? { to: row.to_offset, cut: row.control_cut } : null
  }

  /** The batch starting at `from`: as first claimed (by anyone, in any generation), else ours. */
  const claim = async (state: PartitionState, from: number, to: number, cut: number) => {
    if (from < state.claimedEnd) {
      const existing = await findClaim(state.partition, from)
      if (existing) return existing
    }
    await insertOnce({
      table: tables.projectionBatches,
      token: `claim:${group}:${topic}:${state.partition}:g${CLAIM_GENERATION}:${from}`,
      row: {
        group_name: group,
        topic,
        partition: state.partition,
        generation: CLAIM_GENERATION,
        from_offset: from,
        to_offset: to,
        control_cut: cut,
        claimed_at: Date.now(),
      },
    })
    const claimed = await findClaim(state.partition, from)
    if (!claimed)
      throw new Error(`the claim of batch ${topic}/${state.partition}@${from} was not found after insert`)
    state.claimedEnd = Math.max(state.claimedEnd, claimed.to)
    return claimed
  }

  /** The records whose (stream, id) no earlier offset holds, first occurrence first. */
  const dropSeen = async (partition: number, from: number, records: readonly LogRecord[]) => {
    const streams = [...new Set(records.map((r) => r.stream))]
    const ids = [...new Set(records.map((r) => r.id))]
    const rows = await query(
      IdRow,
      `SELECT stream, id FROM ${warehouse.table(tables.logIds)}
       WHERE topic = {topic:String} AND stream IN {streams:Array(String)} AND id IN {ids:Array(String)}
         AND NOT (partition = {partition:UInt32} AND offset >= {from:UInt64})`,
      { topic, streams, ids, partition, from },
    )
    const seen = new Set(rows.map((r) => `${r.stream}\u0000${r.id}`))
    const fresh: LogRecord[] = []
    for (const record of records) {
      const key = `${record.stream}\u0000${record.id}`
      if (seen.has(key)) continue
      seen.add(key)
      fresh.push(record)
    }
    return fresh
  }

  /** People erased as a whole whose cut in this partition is at or before `from`: none of their records go in. */
  const erasedPeople = (state: PartitionState, from: number) => {
    const people = new Set<string>()
    for (const erasure of view.erasures()) {
      if (erasure.kind === 'person' && cutOf(state, erasure) <= from) people.add(erasure.personId)
    }
    return people
  }

  const frontier = (state: PartitionState) =>
    Math.max(0, ...[...state.lanes.values()].map((l) => l.committed))

  /**
   * One batch for the projections of one lane (those at offset `from`), after the erasures
   * that fall at `from` (also with nothing to read: an idle partition's cut is its head).
   * False when there was nothing to read.
   */
  const projectBatch = async (
    state: PartitionState,
    lane: readonly Projection[],
    from: number,
    signal: AbortSignal,
  ) => {
    const { partition } = state
    await applyDueErasures(state, lane, from)
    const polled =
      from >= frontier(state)
        ? (await lease.poll(partition, from, batchSize, Math.ceil(200 / lease.assigned().length), signal))
            .records
        : await reader.readPartition(partition, from, batchSize)
    if (polled.length === 0 || signal.aborted) return false
    const started = performance.now()
    // Read after the records were polled: every control record appended before they reached
    // the log is below it.
    const head = await refreshControl(true)
    await placeErasures(state)
    const nextCut = Math.min(
      ...view
        .erasures()
        .map((erasure) => cutOf(state, erasure))
        .filter((cut) => cut > from),
    )
    const proposed = Math.min(polled[polled.length - 1]!.position + 1, nextCut)
    const claimed = await claim(state, from, proposed, head)
    const to = claimed.to
    if (view.head() < claimed.cut) {
      await refreshControl(true)
      await placeErasures(state)
      if (view.head() < claimed.cut)
        throw new Error(`the control log ends at ${view.head()}, before the cut ${claimed.cut} of a batch`)
    }
    let records = polled.slice(0, Math.max(0, to - from))
    if (to > from + records.length)
      records = [
        ...records,
        ...(await reader.readPartition(partition, from + records.length, to - from - records.length)),
      ]
    if (records.length !== to - from || records[records.length - 1]?.position !== to - 1) {
      throw new Error(`batch ${topic}/${partition} ${from}-${to}: got ${records.length} records`)
    }
    const fresh = await dropSeen(partition, from, records)
    // A lagging lane's range was finished by a leading one, ids included: no need to write them again.
    if (frontier(state) < to) {
      await insertWithToken(`${topic}:${partition}:g${CLAIM_GENERATION}:${from}-${to}:ids`)(
        tables.logIds,
        fresh.map((r) => ({ topic, stream: r.stream, id: r.id, partition, offset: r.position })),
        0,
      )
    }
    const erased = erasedPeople(state, from)
    const kept =
      erased.size === 0
        ? fresh
        : fresh.filter((record) => {
            const person = personOf(record)
            return person === null || !erased.has(person)
          })
    const definitions = view.definitionsBefore(claimed.cut)
    const owned = ownsScope(partition)
    for (const projection of lane) {
      const key = projectionKey(projection)
      const laneState = state.lanes.get(key)!
      if (kept.length > 0) {
        const insert = insertWithToken(`${topic}:${partition}:g${laneState.generation}:${from}-${to}:${key}`)
        let n = 0
        await projection.apply(kept, {
          warehouse,
          insert: (table, rows) => insert(table, rows, n++),
          definitions,
          ownsScope: owned,
        })
      }
      await checkpoints.save(
        key,
        { committed: to, pending: null, generation: laneState.generation },
        partition,
      )
      laneState.committed = to
    }
    const insertMs = performance.now() - started
    if (to >= frontier(state)) {
      positions.set(partition, to)
      try {
        await lease.commit(partition, to)
      } catch (error) {
        // After a rebalance the group refuses this member's commit; the warehouse checkpoint,
        // which is what workers resume from, has already moved.
        log_.warn({ err: error, partition, offset: to }, 'consumer group offset not committed')
      }
    }
    options.onBatch?.({ partition, from, to, fresh: kept.length, insertMs })
    return true
  }

  /** The projections of a partition grouped by where they stand, furthest behind first. */
  const lanesOf = (state: PartitionState) => {
    const byPosition = new Map<number, Projection[]>()
    for (const projection of projections) {
      const lane = state.lanes.get(projectionKey(projection))
      if (lane) byPosition.set(lane.committed, [...(byPosition.get(lane.committed) ?? []), projection])
    }
    return [...byPosition].sort(([a], [b]) => a - b)
  }

  /**
   * One turn of a partition. Projections behind the others (being rebuilt) go first, batch after
   * batch for up to CATCH_UP_MS, the furthest behind first: over the same claimed batches as
   * the leading ones, so faster than those move and they catch up and merge with them. Then
   * one batch of the leading projections, with the erasures due.
   */
  const turn = async (state: PartitionState, signal: AbortSignal) => {
    await refreshControl(false)
    await placeErasures(state)
    const started = performance.now()
    let lanes = lanesOf(state)
    while (lanes.length > 1 && performance.now() - started < CATCH_UP_MS && !signal.aborted) {
      const [from, lane] = lanes[0]!
      if (!(await projectBatch(state, lane, from, signal))) break
      lanes = lanesOf(state)
    }
    const leading = lanes[lanes.length - 1]
    if (leading && !signal.aborted) await projectBatch(state, leading[1], leading[0], signal)
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
          // A new assignment: positions are read again from the warehouse checkpoints.
          assignment = current
          partitions.clear()
          positions.clear()
          log_.info({ partitions: current }, 'partitions assigned')
        }
        if (assignment.length === 0) {
          await sleep(200, signal)
          continue
        }
        for (const partition of assignment) {
          if (signal.aborted) break
          let state = partitions.get(partition)
          if (!state) {
            state = await loadPartition(partition)
            partitions.set(partition, state)
          }
          await turn(state, signal)
        }
        if (performance.now() - completedAt > IDLE_REFRESH_MS) await completeErasures()
        lastError = null
        delay = RETRY_MIN_MS
      } catch (error) {
        if (signal.aborted) return
        lastError = error instanceof Error ? error.message : String(error)
        log_.error({ err: error, retryInMs: delay }, 'projection batch failed; retrying it')
        // Partition states are read again: the same claimed ranges are projected again.
        partitions.clear()
        await sleep(delay, signal)
        delay = Math.min(delay * 2, RETRY_MAX_MS)
      }
    }
  }

  return {
    positions: () => positions,
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
      loop = null
      await lease.close()
    },
  }
}
