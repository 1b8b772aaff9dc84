import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migrateWarehouse } from '../migrations.ts'
import { type Projection, projectionKey } from '../projection.ts'
import { tables } from '../tables.ts'
import { countOf } from '../testing/workerFixtures.ts'
import { openWarehouse, type Warehouse } from '../warehouse/warehouse.ts'
import { createWarehouseCheckpointStore } from './checkpointStore.ts'
import { buildKey, type GenerationStage, recordGeneration } from './generations.ts'
import type { Lane, PartitionState } from './lanes.ts'
import { createReplayFollower } from './replayFollower.ts'
import { createSingleWriterLedger } from './singleWriterLedger.ts'

/**
 * Replay following on its own: a worker's lanes follow the generation states a replay records
 * (building, switching, serving, cancelled), between two steps of its loop.
 */

const root = mkdtempSync(join(tmpdir(), 'hourglass-replay-follower-'))
const silent = pino({ level: 'silent' })
let warehouse: Warehouse

beforeAll(async () => {
  warehouse = await openWarehouse({ database: 'replay_follower', embeddedPath: join(root, 'warehouse') })
  await migrateWarehouse(warehouse)
})
afterAll(async () => {
  await warehouse.close()
  rmSync(root, { recursive: true, force: true })
})

/** A projection of no tables: what is followed here is lanes, not rows. */
let cases = 0
const projectionOfCase = (): Projection => ({
  name: `followed-${++cases}`,
  version: 1,
  tables: [],
  apply: async () => {},
  reset: async () => {},
})

const noTables = { tables: [], carriedOver: [], builtUuids: {}, views: [] }

/** One partition holding the serving lane at `serving`, and the follower of a worker whose member id is given. */
async function given(serving: number, memberId: string | null = 'member-a') {
  const projection = projectionOfCase()
  const key = projectionKey(projection)
  const checkpoints = createWarehouseCheckpointStore(warehouse)
  const ledger = await createSingleWriterLedger({ warehouse, checkpoints, logger: silent }).open(0)
  const state: PartitionState = { partition: 0, ledger, lanes: new Map() }
  const loadLane = async (s: PartitionState, p: Projection): Promise<Lane> => {
    const laneKey = projectionKey(p)
    const start = await s.ledger.resume(laneKey)
    return { projection: p, key: laneKey, ...start, applied: new Set() }
  }
  let switched = 0
  const follower = createReplayFollower({
    warehouse,
    projections: [projection],
    partitions: () => [state],
    loadLane,
    memberId: () => memberId,
    onSwitched: () => switched++,
    logger: silent,
  })
  await follower.open(state)
  // The serving lane has projected up to `serving` (a position the ledger has not saved yet).
  const lane = state.lanes.get(key)!
  await ledger.advance(lane, serving, false)
  lane.committed = serving
  const record = async (generation: number, stage: GenerationStage) => {
    if (stage === 'building')
      await checkpoints.save(buildKey(projection, generation), { committed: 0, pending: null, generation }, 0)
    await recordGeneration(warehouse, key, { generation, stage, plan: noTables, target: [serving] })
  }
  const lanes = () =>
    Object.fromEntries(
      [...state.lanes.values()].map((l) => [l.key, { at: l.committed, generation: l.generation }]),
    )
  const acks = () =>
    countOf(
      warehouse,
      `SELECT count() AS n FROM ${warehouse.table(tables.projectionReplayAcks)} WHERE projection_name = '${key}'`,
    )
  return {
    projection,
    key,
    built: (generation: number) => buildKey(projection, generation),
    follower,
    state,
    checkpoints,
    record,
    lanes,
    acks,
    switched: () => switched,
  }
}

describe('replay following', () => {
  it('given a projection serving, when a build of generation 1 is recorded, then each partition runs it as a lane from offset 0 beside the serving one', async () => {
    const { key, built, follower, record, lanes } = await given(40)
    await record(1, 'building')
    await follower.follow(true)
    expect(lanes()).toEqual({ [key]: { at: 40, generation: 0 }, [built(1)]: { at: 0, generation: 1 } })
    expect(follower.stopped(key)).toBe(false)
    expect(follower.servingGenerations().get(key)).toBe(0)
  })

  it('given a build, when the switch is recorded, then the lanes are saved and dropped and the worker acknowledges once', async () => {
    const { key, follower, record, lanes, acks, checkpoints } = await given(40)
    await record(1, 'building')
    await follower.follow(true)
    await record(1, 'switching')
    await follower.follow(true)
    expect(lanes()).toEqual({})
    expect(follower.stopped(key)).toBe(true)
    expect(follower.servingGenerations().get(key)).toBeNull()
    expect((await checkpoints.load(key, 0)).committed).toBe(40)
    expect(await acks()).toBe(1)
    await follower.follow(true)
    expect(await acks()).toBe(1)
  })

  it('given a worker that has not joined its group, when the switch is recorded, then it lets go without acknowledging', async () => {
    const { key, follower, record, lanes, acks } = await given(10, null)
    await record(1, 'switching')
    await follower.follow(true)
    expect(lanes()).toEqual({})
    expect(follower.stopped(key)).toBe(true)
    expect(await acks()).toBe(0)
  })

  it('given a switch, when generation 1 serves, then the serving lane resumes from its new checkpoint, once', async () => {
    const { key, follower, record, lanes, checkpoints, switched } = await given(40)
    await record(1, 'building')
    await follower.follow(true)
    await record(1, 'switching')
    await follower.follow(true)
    // What the operator's switch does: the serving checkpoint takes the built generation's place.
    await checkpoints.save(key, { committed: 55, pending: null, generation: 1 }, 0)
    await record(1, 'serving')
    await follower.follow(true)
    expect(lanes()).toEqual({ [key]: { at: 55, generation: 1 } })
    expect(follower.stopped(key)).toBe(false)
    expect(follower.servingGenerations().get(key)).toBe(1)
    expect(switched()).toBe(1)
    await follower.follow(true)
    expect(switched()).toBe(1)
  })

  it('given a build, when it is cancelled, then the built lane goes and the serving one stays where it is', async () => {
    const { key, follower, record, lanes } = await given(25)
    await record(1, 'building')
    await follower.follow(true)
    await record(1, 'cancelled')
    await follower.follow(true)
    expect(lanes()).toEqual({ [key]: { at: 25, generation: 0 } })
  })

  it('given a build of generation 2 after one of generation 1 was cancelled, then only generation 2 has a lane', async () => {
    const { key, built, follower, record, lanes } = await given(30)
    await record(1, 'building')
    await follower.follow(true)
    await record(1, 'cancelled')
    await record(2, 'building')
    await follower.follow(true)
    expect(lanes()).toEqual({ [key]: { at: 30, generation: 0 }, [built(2)]: { at: 0, generation: 2 } })
  })

  it('given a projection switching, when a partition is opened, then it runs none of its lanes; while building, both', async () => {
    const { key, built, follower, record } = await given(5)
    await record(1, 'building')
    await follower.follow(true)
    const checkpoints = createWarehouseCheckpointStore(warehouse)
    const open = async () => {
      const ledger = await createSingleWriterLedger({ warehouse, checkpoints, logger: silent }).open(1)
      const state: PartitionState = { partition: 1, ledger, lanes: new Map() }
      await follower.open(state)
      return [...state.lanes.keys()].sort()
    }
    expect(await open()).toEqual([key, built(1)].sort())
    await record(1, 'switching')
    await follower.follow(true)
    expect(await open()).toEqual([])
  })
})
