import type { Logger } from 'pino'
import { type Projection, projectionKey } from '../projection.ts'
import type { Warehouse } from '../warehouse/warehouse.ts'
import { IDLE_REFRESH_MS } from './controlFollower.ts'
import { buildingLane, laneKeysOf } from './generationLanes.ts'
import type { Lane, PartitionState } from './lanes.ts'
import { acknowledgeReplay, loadReplayStates, type ReplayState } from './replay.ts'

export interface ReplayFollowerOptions {
  readonly warehouse: Warehouse
  readonly projections: readonly Projection[]
  /** The partitions the worker holds now. */
  partitions(): Iterable<PartitionState>
  /** A lane of the projection in the partition, where its checkpoint says it stands. */
  loadLane(state: PartitionState, projection: Projection): Promise<Lane>
  /** The worker's member id in its group (null before it has joined). */
  memberId(): string | null
  /** Every table of a projection may have changed: a generation switched in. */
  onSwitched(): void
  readonly logger: Logger
}

/**
 * A worker's side of the replay protocol (replay.ts), between two steps of its loop. It reads the
 * projections' generation states (at most once a second unless forced) and brings the worker's
 * lanes in line with them:
 *
 * - `building` generation g: each partition runs g as one more lane, from its own checkpoint;
 * - `switching`: the projection's lanes are saved and dropped from every partition, and the
 *   worker acknowledges under its member id (once), so that the switch may begin;
 * - `serving` g: the serving lane is loaded again from its checkpoint once it is behind g;
 * - `cancelled`: the built lane goes, and the worker acknowledges (once), so that the replay may
 *   drop the built tables.
 */
export function createReplayFollower(options: ReplayFollowerOptions) {
  const { warehouse, projections, logger } = options
  let replays = new Map<string, ReplayState>()
  let readAt = Number.NEGATIVE_INFINITY
  const acknowledged = new Set<string>()

  /** The projection is switching generations: the worker runs none of its lanes. */
  const stopped = (key: string) => replays.get(key)?.stage === 'switching'

  /**
   * A projection about to switch generations: every lane's position is saved (the switch starts
   * the serving generation where the built one stands), its lanes are dropped from every
   * partition, and the worker acknowledges.
   */
  const letGo = async (projection: Projection, replay: ReplayState) => {
    const key = projectionKey(projection)
    for (const state of options.partitions()) {
      await state.ledger.flush()
      for (const laneKey of laneKeysOf(projection, replay)) state.lanes.delete(laneKey)
    }
    await acknowledge(key, replay.generation, 'generation switching: projection stopped')
  }

  /**
   * Tells the replay, once, under this worker's member id, that it writes nothing more of the
   * generation's tables: a switch may begin, or a cancelled build's tables may be dropped. A
   * cancelled generation is never built again (the next build takes the next number), so the two
   * never share an acknowledgement.
   */
  const acknowledge = async (key: string, generation: number, what: string) => {
    const memberId = options.memberId()
    const ack = `${key}:${generation}:${memberId}`
    if (!memberId || acknowledged.has(ack)) return
    await acknowledgeReplay(warehouse, key, generation, memberId)
    acknowledged.add(ack)
    logger.info({ projection: key, generation }, what)
  }

  /** Brings a partition's lanes of the projection in line with its generations. */
  const align = async (state: PartitionState, projection: Projection, replay: ReplayState) => {
    const key = projectionKey(projection)
    const built = buildingLane(projection, replay)
    for (const laneKey of [...state.lanes.keys()])
      if (laneKey.startsWith(`${projection.name}~g`) && laneKey !== built?.key) state.lanes.delete(laneKey)
    if (built && !state.lanes.has(built.key)) {
      state.lanes.set(built.key, await options.loadLane(state, built.projection))
      logger.info(
        { projection: key, generation: replay.generation, partition: state.partition },
        'building the next generation beside the serving one',
      )
    }
    const lane = state.lanes.get(key)
    if (lane && (replay.stage !== 'serving' || lane.generation >= replay.generation)) return
    state.lanes.set(key, await options.loadLane(state, projection))
    if (replay.stage === 'serving') {
      options.onSwitched()
      logger.info(
        { projection: key, generation: replay.generation, partition: state.partition },
        'generation switched: the projection resumes from its new checkpoint',
      )
    }
  }

  return {
    stopped,
    /** The latest replay of the projection (by key) as last read, if any. */
    replayOf: (key: string) => replays.get(key),

    /** Reads the generation states (at most once a second unless forced) and follows them. */
    async follow(force: boolean) {
      if (!force && performance.now() - readAt < IDLE_REFRESH_MS) return
      replays = await loadReplayStates(warehouse)
      readAt = performance.now()
      for (const projection of projections) {
        const replay = replays.get(projectionKey(projection))
        if (!replay) continue
        if (replay.stage === 'switching') {
          await letGo(projection, replay)
          continue
        }
        for (const state of options.partitions()) await align(state, projection, replay)
        // Its lane is gone from every partition (align): the built tables may go.
        if (replay.stage === 'cancelled')
          await acknowledge(projectionKey(projection), replay.generation, 'build cancelled: its lane stopped')
      }
    },

    /** The lanes a partition opened now runs: the serving one (unless stopped) and the one being built. */
    async open(state: PartitionState) {
      for (const projection of projections) {
        const key = projectionKey(projection)
        if (stopped(key)) continue
        state.lanes.set(key, await options.loadLane(state, projection))
        const built = buildingLane(projection, replays.get(key))
        if (built) state.lanes.set(built.key, await options.loadLane(state, built.projection))
      }
    },

    /** The generation each projection serves at: its lanes' here, else its latest replay's; null when stopped. */
    servingGenerations() {
      const serving = new Map<string, number | null>()
      for (const projection of projections) {
        const key = projectionKey(projection)
        if (stopped(key)) {
          serving.set(key, null)
          continue
        }
        const replay = replays.get(key)
        let generation = replay?.stage === 'serving' ? replay.generation : 0
        for (const state of options.partitions())
          generation = Math.max(generation, state.lanes.get(key)?.generation ?? 0)
        serving.set(key, generation)
      }
      return serving
    },
  }
}

export type ReplayFollower = ReturnType<typeof createReplayFollower>
