import type { TelemetryRecord } from '@hourglass/log'
import { parseTelemetryEvent, TELEMETRY_EVENT } from '@hourglass/schemas'
import { z } from 'zod'
import type { Erasure } from './erasure.ts'
import {
  type BatchContext,
  type ErasureContext,
  InvalidLogRecordError,
  type Projection,
} from './projection.ts'
import { tables } from './tables.ts'
import { defineQuery, defineStatement, truncateTables } from './warehouse/namedStatements.ts'

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
  /** The first log position of the batch that summed the row: how a rewritten batch finds it. */
  position: number
}

const HOUR_MS = 3600_000

/**
 * Per-user statistics of defined events: for each event whose name its source had defined
 * before it (exactly the events ingest checked against that definition), one amount per user
 * (the event's subject), key (the value of the definition's first string attribute, or the
 * event's name without one) and event-time hour — the value of its first integer attribute, or
 * 1 without one. Rows are summed within a batch; the table sums them across batches, and a
 * materialized view keeps the all-time sums per user and key.
 *
 * Which definition applies is the runtime's to say (`BatchContext.definitionOf`): the same for
 * every attempt at a batch and every replay of it, so a rewritten batch gives the same rows.
 */
export const userStatsProjection: Projection = {
  name: 'user-stats',
  version: 1,
  async apply(records, context) {
    const stats = new Map<string, UserStatRow>()
    const batchFrom = records[0]?.position ?? 0
    for (const record of records) {
      if (record.type === TELEMETRY_EVENT) addEvent(context, stats, record, batchFrom)
    }
    await context.insert(tables.userStatsHourly, [...stats.values()])
  },
  erase: eraseUserStats,
  tables: [tables.eventDefinitions, tables.userStatsHourly, tables.userStatsTotal],
  reset: (warehouse) => truncateTables(warehouse, userStatsProjection.tables),
}

const PersonParams = z.object({ personId: z.string() })

const sourcesOfPerson = defineQuery({
  name: 'user statistics: sources of a person',
  params: PersonParams,
  row: z.object({ source_id: z.string() }),
  sql: (w) =>
    `SELECT DISTINCT source_id FROM ${w.table(tables.userStatsHourly)} WHERE subject = {personId:String}`,
})

const deletePerson = (table: string) =>
  defineStatement({
    name: `${table}: delete an erased person's statistics`,
    kind: 'mutation',
    params: PersonParams.extend({ sources: z.array(z.string()) }),
    sql: (w) =>
      `ALTER TABLE ${w.table(table)} DELETE WHERE subject = {personId:String} AND source_id IN {sources:Array(String)}`,
  })

/** Deletes the person's statistics (the hourly sums carry no positions: all of them), in the sources the step owns. */
async function eraseUserStats(erasure: Erasure, context: ErasureContext): Promise<void> {
  const { warehouse } = context
  const sources = (await warehouse.select(sourcesOfPerson, { personId: erasure.personId }))
    .map((row) => row.source_id)
    .filter(context.ownsScope)
  if (sources.length === 0) return
  for (const table of [tables.userStatsHourly, tables.userStatsTotal]) {
    await warehouse.run(deletePerson(table), { personId: erasure.personId, sources })
  }
}

/** Adds an event to the batch's sums when its source defined its name before it. */
function addEvent(
  context: Pick<BatchContext, 'definitionOf'>,
  stats: Map<string, UserStatRow>,
  record: TelemetryRecord,
  batchFrom: number,
) {
  const data = record.data as { sourceId?: unknown; name?: unknown }
  if (typeof data.sourceId !== 'string' || typeof data.name !== 'string') return
  const definition = context.definitionOf(record, data.sourceId, data.name)
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
      position: batchFrom,
    })
  }
}
