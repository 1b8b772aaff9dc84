import type { LogRecord } from '@hourglass/log'
import { parseTelemetryEvent, TELEMETRY_EVENT } from '@hourglass/schemas'
import { z } from 'zod'
import { type Erasure, toErasure } from './erasure.ts'
import { type BatchContext, InvalidLogRecordError, type Projection } from './projection.ts'
import { tables } from './tables.ts'
import {
  createTrackingPlans,
  type StatisticsDefinition,
  type TrackingPlans,
  toStatisticsDefinition,
} from './trackingPlans.ts'
import type { Warehouse } from './warehouse.ts'

export interface UserStatRow {
  account_id: string
  source_id: string
  name: string
  subject: string
  stat_key: string
  /** Start of the event-time hour, epoch seconds. */
  hour: number
  amount: number
  events: number
  /** The first log position of the batch part that summed the row: how a rewritten batch finds it. */
  position: number
}

const DefinitionRow = z.object({
  account_id: z.string(),
  source_id: z.string(),
  name: z.string(),
  event_code: z.string(),
  key_attr: z.string(),
  amount_attr: z.string(),
  position: z.coerce.number(),
})

/**
 * Embedded mode: definitions seen so far, per warehouse. Loaded once from the projection's own
 * table (so a restart knows what earlier batches defined), then kept up to date in memory as
 * batches are applied — no warehouse read per batch. Distributed mode does not use it: the
 * worker passes the definitions of the control log (`BatchContext.definitions`).
 */
const plansByWarehouse = new WeakMap<Warehouse, Promise<TrackingPlans>>()

const loadPlans = (warehouse: Warehouse): Promise<TrackingPlans> => {
  let plans = plansByWarehouse.get(warehouse)
  if (!plans) {
    plans = (async () => {
      const result = await warehouse.client.query({
        query: `SELECT account_id, source_id, name, event_code, key_attr, amount_attr, position
                FROM ${warehouse.table(tables.eventDefinitions)} ORDER BY position`,
        format: 'JSONEachRow',
      })
      const loaded = createTrackingPlans()
      for (const row of z.array(DefinitionRow).parse(await result.json())) {
        loaded.remember({
          accountId: row.account_id,
          sourceId: row.source_id,
          name: row.name,
          eventCode: row.event_code,
          keyAttr: row.key_attr,
          amountAttr: row.amount_attr,
          position: row.position,
        })
      }
      return loaded
    })()
    plans.catch(() => plansByWarehouse.delete(warehouse))
    plansByWarehouse.set(warehouse, plans)
  }
  return plans
}

const HOUR_MS = 3600_000

/** The definition an event is counted under: one its source made at an earlier log position. */
type DefinitionOf = (record: LogRecord, sourceId: string, name: string) => StatisticsDefinition | undefined

/**
 * Per-user statistics of defined events: for each event whose name its source had defined at
 * an earlier log position (exactly the events ingest checked against that definition), one
 * amount per user (the event's subject), key (the value of the definition's first string
 * attribute, or the event's name without one) and event-time hour — the value of its first
 * integer attribute, or 1 without one.
 * Rows are summed within a batch; the table sums them across batches, and a materialized view
 * keeps the all-time sums per user and key.
 *
 * Whether a definition applies depends only on log positions, so a replay, or a batch written
 * again after a crash, gives the same rows. In distributed mode definitions live in the
 * control log, not among the batch's records: the worker passes those recorded before the
 * batch's control cut (`BatchContext.definitions`), which every attempt at the batch shares.
 */
export const userStatsProjection: Projection = {
  name: 'user-stats',
  version: 1,
  async apply(records, context) {
    const { warehouse, insert } = context
    const given = context.definitions
    const plans = given ? null : await loadPlans(warehouse)
    const definitionOf: DefinitionOf = given
      ? (_record, sourceId, name) => given(sourceId, name)
      : (record, sourceId, name) => {
          const definition = plans!.find(sourceId, name)
          return definition && definition.position < record.position ? definition : undefined
        }
    const definitionRows: z.infer<typeof DefinitionRow>[] = []
    let stats = new Map<string, UserStatRow>()
    let partFrom = records[0]?.position ?? 0
    const flush = async (next: number) => {
      await insert(tables.userStatsHourly, [...stats.values()])
      stats = new Map()
      partFrom = next
    }
    for (const record of records) {
      if (record.type === TELEMETRY_EVENT) {
        addEvent(definitionOf, stats, record, partFrom)
        continue
      }
      const definition = plans ? toStatisticsDefinition(record) : null
      if (definition) {
        plans!.remember(definition)
        definitionRows.push({
          account_id: definition.accountId,
          source_id: definition.sourceId,
          name: definition.name,
          event_code: definition.eventCode,
          key_attr: definition.keyAttr,
          amount_attr: definition.amountAttr,
          position: definition.position,
        })
        continue
      }
      const erasure = toErasure(record)
      if (!erasure) continue
      // An erased person leaves every answer: what is summed so far goes in, then their rows go.
      await flush(record.position + 1)
      await eraseUserStats(erasure, context)
    }
    await insert(tables.eventDefinitions, definitionRows)
    await flush(0)
  },
  erase: eraseUserStats,
  async reset(warehouse) {
    plansByWarehouse.delete(warehouse)
    for (const table of [tables.eventDefinitions, tables.userStatsHourly, tables.userStatsTotal]) {
      await warehouse.client.command({ query: `TRUNCATE TABLE IF EXISTS ${warehouse.table(table)}` })
    }
  },
}

const SourceRow = z.array(z.object({ source_id: z.string() }))

/** Deletes the person's statistics (the hourly sums carry no positions: all of them), in the sources the context owns. */
async function eraseUserStats(erasure: Erasure, context: BatchContext): Promise<void> {
  const { warehouse, ownsScope } = context
  let sources: string[] | null = null
  if (ownsScope) {
    const result = await warehouse.client.query({
      query: `SELECT DISTINCT source_id FROM ${warehouse.table(tables.userStatsHourly)}
              WHERE subject = {personId:String}`,
      query_params: { personId: erasure.personId },
      format: 'JSONEachRow',
    })
    sources = SourceRow.parse(await result.json())
      .map((row) => row.source_id)
      .filter(ownsScope)
    if (sources.length === 0) return
  }
  for (const table of [tables.userStatsHourly, tables.userStatsTotal]) {
    await warehouse.client.command({
      query: `ALTER TABLE ${warehouse.table(table)} DELETE WHERE subject = {personId:String}
              ${sources ? 'AND source_id IN {sources:Array(String)}' : ''}`,
      query_params: { personId: erasure.personId, ...(sources ? { sources } : {}) },
      clickhouse_settings: { mutations_sync: '2' },
    })
  }
}

/** Adds an event to the batch's sums when its source defined its name before it. */
function addEvent(
  definitionOf: DefinitionOf,
  stats: Map<string, UserStatRow>,
  record: LogRecord,
  partFrom: number,
) {
  const data = record.data as { sourceId?: unknown; name?: unknown }
  if (typeof data.sourceId !== 'string' || typeof data.name !== 'string') return
  const definition = definitionOf(record, data.sourceId, data.name)
  if (!definition) return
  const parsed = parseTelemetryEvent(record.data)
  if (!parsed.success) throw new InvalidLogRecordError(record.position, parsed.error.message)
  const event = parsed.data
  if (!event.subject) return
  // An attribute the event carries no value of counts as one its definition lacks (Metrica's
  // messages may leave values out): the event's name is the key, and it counts once.
  const carried = (attr: string) => attr !== '' && Object.hasOwn(event.attrs, attr)
  const key = carried(definition.keyAttr) ? event.attrs[definition.keyAttr] : definition.name
  const amount = carried(definition.amountAttr) ? event.attrs[definition.amountAttr] : 1
  // Ingest checked the event against the definition; one that raced ahead of it is left out.
  if (typeof key !== 'string' || typeof amount !== 'number' || !Number.isSafeInteger(amount)) return
  const hour = Math.floor(event.timestamp / HOUR_MS) * 3600
  const id = `${event.sourceId}\u0000${event.name}\u0000${event.subject}\u0000${key}\u0000${hour}`
  const row = stats.get(id)
  if (row) {
    row.amount += amount
    row.events += 1
  } else {
    stats.set(id, {
      account_id: event.accountId,
      source_id: event.sourceId,
      name: event.name,
      subject: event.subject,
      stat_key: key,
      hour,
      amount,
      events: 1,
      position: partFrom,
    })
  }
}
