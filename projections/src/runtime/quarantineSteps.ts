import type { TelemetryRecord } from '@hourglass/log'
import { toWellFormed, toWellFormedJson } from '@hourglass/schemas'
import type { Logger } from 'pino'
import { personOf } from '../erasure.ts'
import { type Projection, projectionKey } from '../projection.ts'
import type { Warehouse } from '../warehouse/warehouse.ts'
import type { BatchInsert, BatchRange, LaneKey, PartitionLedger } from './batchLedger.ts'
import { createProbeInsert, findFaultyRecords } from './batchProbe.ts'
import { createBatchRepair } from './batchRepair.ts'
import type { ControlOrder, DefinitionLookup } from './controlOrder.ts'
import type { ControlView } from './controlView.ts'
import { checkedInsert, faultOf, isRecordFault } from './quarantine.ts'
import type { QuarantinedRecord, QuarantineStore } from './quarantineStore.ts'
import { changeOf, type WarehouseChangeListener } from './warehouseChanges.ts'

/** A lane as the quarantine steps see it. */
export interface QuarantiningLane extends LaneKey {
  readonly projection: Projection
}

/** What an operator asks of the records held: to apply them again, optionally made well-formed first. */
export interface RedriveRequest {
  /** A projection key (`name@vN`); every projection when absent. */
  readonly projection?: string | undefined
  /** Only the record at this log position. */
  readonly position?: number | undefined
  /**
   * Makes every string of the record well-formed Unicode (each lone surrogate becomes U+FFFD)
   * before applying it: what earlier versions stored for such a string.
   */
  readonly repair?: boolean | undefined
}

export interface RedriveOutcome {
  readonly projection: string
  readonly partition: number
  readonly position: number
  /** `retried`: applied and counted once; `held`: it fails again; `dropped`: its person is erased. */
  readonly status: 'retried' | 'held' | 'dropped'
  readonly error: string | null
}

export interface QuarantineSteps {
  /**
   * Writes one lane's share of a batch. When the write fails for what the records hold, the
   * records that fail on their own are found (batchProbe.ts), set aside for this lane, and the
   * others written: the batch goes on. Any other failure is thrown, to be retried.
   */
  writeLane(
    ledger: PartitionLedger,
    partition: number,
    lane: QuarantiningLane,
    batch: BatchRange,
    records: readonly TelemetryRecord[],
    definitionOf: DefinitionLookup,
    retry: boolean,
  ): Promise<void>
  /** Applies the held records of the partitions this worker holds again, each exactly once. */
  redrive(request: RedriveRequest, held: readonly number[]): Promise<RedriveOutcome[]>
}

export const wellFormedRecord = (record: TelemetryRecord): TelemetryRecord => ({
  ...record,
  id: toWellFormed(record.id),
  data: toWellFormedJson(record.data),
})

export function createQuarantineSteps(options: {
  warehouse: Warehouse
  store: QuarantineStore
  projections: readonly Projection[]
  view: ControlView
  order: ControlOrder
  /** The log's name in the quarantine's rows. */
  topic: string
  /** A record of a partition this worker holds, by position. */
  readRecord(partition: number, position: number): Promise<TelemetryRecord | null>
  /** Where a projection's lane stands in a partition now, if this worker runs it there. */
  laneOf(
    partition: number,
    key: string,
  ): { generation: number; committed: number; projection: Projection } | null
  /** Hears which hours a re-drive writes (a cache of answers drops what goes stale). */
  changes?: WarehouseChangeListener | undefined
  logger: Logger
}): QuarantineSteps {
  const { warehouse, store, topic, logger } = options
  const probeInsert = checkedInsert(createProbeInsert(warehouse))

  /** Whether the record fails on its own; rejects when the engine is away (not the record's fault). */
  const probeAttempt =
    (projection: Projection, definitionOf: DefinitionLookup) =>
    async (records: readonly TelemetryRecord[]) => {
      try {
        await projection.apply(records, { insert: probeInsert, definitionOf })
        return null
      } catch (error) {
        if (isRecordFault(error)) return error
        throw error
      }
    }

  /**
   * A lane's write, with every row checked before it is sent: ClickHouse refuses a lone surrogate
   * in some inserts and stores it as invalid bytes in others, so the batch's own write must not
   * leave it to the warehouse, or such a record is counted instead of set aside.
   */
  const applyWith =
    (lane: QuarantiningLane, records: readonly TelemetryRecord[], definitionOf: DefinitionLookup) =>
    (insert: BatchInsert) =>
      lane.projection.apply(records, { insert: checkedInsert(insert), definitionOf })

  const erased = (partition: number, record: TelemetryRecord) => {
    const person = personOf(record)
    if (person === null) return false
    return options.view
      .erasures()
      .some(
        (erasure) =>
          erasure.personId === person &&
          (erasure.kind === 'person' || record.position < options.order.cutOf(partition, erasure)),
      )
  }

  /** Applies one held record through a repair of its one position: a second re-drive finds its rows and adds none. */
  const applyOne = async (projection: Projection, generation: number, record: TelemetryRecord) => {
    const range = { from: record.position, to: record.position + 1 }
    const repair = createBatchRepair(warehouse, range, logger)
    const key = projectionKey(projection)
    let n = 0
    const definitionOf = options.order.definitions(options.view, options.view.head())
    await projection.apply([record], {
      insert: checkedInsert((table, rows) =>
        repair.insert(table, rows, `${key}:g${generation}:quarantine:${record.position}:${table}:${n++}`),
      ),
      definitionOf,
    })
    await repair.finish()
  }

  const redriveOne = async (entry: QuarantinedRecord, repair: boolean): Promise<RedriveOutcome> => {
    const at = { projection: entry.projection, partition: entry.partition, position: entry.position }
    const lane = options.laneOf(entry.partition, entry.projection)
    // A generation being built has its own projection (its tables' names); others are found by key.
    const projection =
      lane?.projection ?? options.projections.find((p) => projectionKey(p) === entry.projection)
    const stored = await options.readRecord(entry.partition, entry.position)
    if (!projection || !lane || !stored) {
      return { ...at, status: 'held', error: 'the record or its projection is not in reach of this worker' }
    }
    // A lane being rebuilt has not reached the record yet: it meets it again on its way.
    if (lane.committed <= entry.position) {
      return {
        ...at,
        status: 'held',
        error: 'the projection is being rebuilt and has not reached the record',
      }
    }
    await options.order.place(entry.partition, options.view.erasures())
    if (erased(entry.partition, stored)) {
      await store.update(entry, { status: 'dropped', message: 'its person is erased' })
      return { ...at, status: 'dropped', error: null }
    }
    const record = repair ? wellFormedRecord(stored) : stored
    const change = changeOf([record])
    options.changes?.changing(change)
    try {
      await applyOne(projection, lane.generation, record)
    } catch (error) {
      if (!isRecordFault(error)) throw error
      const fault = faultOf(error)
      await store.update(entry, { status: 'held', attempts: entry.attempts + 1, ...fault })
      return { ...at, status: 'held', error: fault.message }
    } finally {
      options.changes?.changed(change)
    }
    await store.update(entry, { status: 'retried', attempts: entry.attempts + 1 })
    logger.info(at, 'quarantined record re-driven: counted once')
    return { ...at, status: 'retried', error: null }
  }

  return {
    async writeLane(ledger, partition, lane, batch, records, definitionOf, retry) {
      try {
        await ledger.write(lane, batch, applyWith(lane, records, definitionOf), retry)
        return
      } catch (error) {
        if (!isRecordFault(error)) throw error
        const faulty = await findFaultyRecords(records, probeAttempt(lane.projection, definitionOf), error)
        if (faulty.length === 0) throw error
        await store.hold(
          lane,
          { topic, partition },
          faulty.map(({ record, error: cause }) => ({ record, ...faultOf(cause) })),
        )
        logger.warn(
          {
            projection: lane.key,
            partition,
            positions: faulty.map(({ record }) => record.position),
            error: faultOf(faulty[0]!.error).code,
          },
          'records the projection cannot apply are quarantined; the batch goes on without them',
        )
        const bad = new Set(faulty.map(({ record }) => record))
        const rest = records.filter((record) => !bad.has(record))
        // The failed attempt may have written part of the batch: this one repairs what it finds.
        await ledger.write(lane, batch, applyWith(lane, rest, definitionOf), true)
      }
    },
    async redrive(request, held) {
      const entries = (
        await store.list({
          status: 'held',
          ...(request.projection ? { projection: request.projection } : {}),
          ...(request.position !== undefined ? { position: request.position } : {}),
        })
      ).filter((entry) => entry.topic === topic && held.includes(entry.partition))
      const outcomes: RedriveOutcome[] = []
      for (const entry of entries) outcomes.push(await redriveOne(entry, request.repair === true))
      return outcomes
    },
  }
}
