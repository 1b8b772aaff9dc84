import type { LogRecord } from '@hourglass/log'
import { EventDefined, parseTelemetryEvent, statisticsAttributes, TELEMETRY_EVENT } from '@hourglass/schemas'
import { z } from 'zod'
import { toErasure } from './erasure.ts'
import { InvalidLogRecordError, type Projection } from './projection.ts'
import { tables } from './tables.ts'
import type { Warehouse } from './warehouse.ts'

/** What the projection keeps of an event definition. */
interface KnownDefinition {
  readonly accountId: string
  readonly name: string
  readonly eventCode: string
  /** Attribute whose values are the keys ('' when the event has no string attribute: the name is the key). */
  readonly keyAttr: string
  /** Attribute whose values are summed ('' when it has no integer attribute: events are counted). */
  readonly amountAttr: string
  /** Log position of the definition: it applies to events after it only. */
  readonly position: number
}

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

/** sourceId → event name → definition. */
type Plans = Map<string, Map<string, KnownDefinition>>

/**
 * Definitions seen so far, per warehouse. Loaded once from the projection's own table (so a
 * restart knows what earlier batches defined), then kept up to date as batches are applied.
 */
const plansByWarehouse = new WeakMap<Warehouse, Promise<Plans>>()

const loadPlans = (warehouse: Warehouse): Promise<Plans> => {
  let plans = plansByWarehouse.get(warehouse)
  if (!plans) {
    plans = (async () => {
      const result = await warehouse.client.query({
        query: `SELECT account_id, source_id, name, event_code, key_attr, amount_attr, position
                FROM ${warehouse.table(tables.eventDefinitions)} ORDER BY position`,
        format: 'JSONEachRow',
      })
      const loaded: Plans = new Map()
      for (const row of z.array(DefinitionRow).parse(await result.json())) {
        remember(loaded, row.source_id, {
          accountId: row.account_id,
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

const remember = (plans: Plans, sourceId: string, definition: KnownDefinition) => {
  const plan = plans.get(sourceId) ?? new Map<string, KnownDefinition>()
  // Definitions do not change: the first one recorded for a name stands.
  if (!plan.has(definition.name)) plan.set(definition.name, definition)
  plans.set(sourceId, plan)
}

const HOUR_MS = 3600_000

/**
 * Per-user statistics of defined events: for each event whose name its source had defined at
 * an earlier log position (exactly the events ingest checked against that definition), one
 * amount per user (the event's subject), key (the value of the definition's first string
 * attribute) and event-time hour — the value of its first integer attribute, or 1 without one.
 * Rows are summed within a batch; the table sums them across batches, and a materialized view
 * keeps the all-time sums per user and key.
 *
 * Whether a definition applies depends only on log positions, so a replay, or a batch written
 * again after a crash, gives the same rows.
 */
export const userStatsProjection: Projection = {
  name: 'user-stats',
  version: 1,
  async apply(records, { warehouse, insert }) {
    const plans = await loadPlans(warehouse)
    const definitionRows: z.infer<typeof DefinitionRow>[] = []
    let stats = new Map<string, UserStatRow>()
    const flush = async () => {
      await insert(tables.userStatsHourly, [...stats.values()])
      stats = new Map()
    }
    for (const record of records) {
      if (record.type === TELEMETRY_EVENT) {
        addEvent(plans, stats, record)
      } else if (record.type === 'event.defined') {
        const parsed = EventDefined.safeParse({ ...(record.data as object), type: record.type })
        if (!parsed.success) throw new InvalidLogRecordError(record.position, parsed.error.message)
        const { keyAttr, amountAttr } = statisticsAttributes(parsed.data.attrs)
        const definition: KnownDefinition = {
          accountId: parsed.data.accountId,
          name: parsed.data.name,
          eventCode: parsed.data.eventCode,
          keyAttr: keyAttr ?? '',
          amountAttr: amountAttr ?? '',
          position: record.position,
        }
        remember(plans, parsed.data.sourceId, definition)
        definitionRows.push({
          account_id: definition.accountId,
          source_id: parsed.data.sourceId,
          name: definition.name,
          event_code: definition.eventCode,
          key_attr: definition.keyAttr,
          amount_attr: definition.amountAttr,
          position: definition.position,
        })
      } else {
        const erasure = toErasure(record)
        if (!erasure) continue
        // An erased person leaves every answer: what is summed so far goes in, then their rows go.
        await flush()
        for (const table of [tables.userStatsHourly, tables.userStatsTotal]) {
          await warehouse.client.command({
            query: `ALTER TABLE ${warehouse.table(table)} DELETE WHERE subject = {personId:String}`,
            query_params: { personId: erasure.personId },
            clickhouse_settings: { mutations_sync: '2' },
          })
        }
      }
    }
    await insert(tables.eventDefinitions, definitionRows)
    await flush()
  },
  async reset(warehouse) {
    plansByWarehouse.delete(warehouse)
    for (const table of [tables.eventDefinitions, tables.userStatsHourly, tables.userStatsTotal]) {
      await warehouse.client.command({ query: `TRUNCATE TABLE IF EXISTS ${warehouse.table(table)}` })
    }
  },
}

/** Adds an event to the batch's sums when its source defined its name before it. */
function addEvent(plans: Plans, stats: Map<string, UserStatRow>, record: LogRecord) {
  const data = record.data as { sourceId?: unknown; name?: unknown }
  if (typeof data.sourceId !== 'string' || typeof data.name !== 'string') return
  const definition = plans.get(data.sourceId)?.get(data.name)
  if (!definition || definition.position >= record.position) return
  const parsed = parseTelemetryEvent(record.data)
  if (!parsed.success) throw new InvalidLogRecordError(record.position, parsed.error.message)
  const event = parsed.data
  if (!event.subject) return
  const key = definition.keyAttr ? event.attrs[definition.keyAttr] : definition.name
  const amount = definition.amountAttr ? event.attrs[definition.amountAttr] : 1
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
    })
  }
}
