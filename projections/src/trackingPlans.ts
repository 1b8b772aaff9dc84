import type { ControlRecord } from '@hourglass/log'
import { EventDefined, statisticsAttributes } from '@hourglass/schemas'
import { InvalidLogRecordError } from './invalidLogRecord.ts'

/** What per-user statistics keep of an event definition. */
export interface StatisticsDefinition {
  readonly accountId: string
  readonly sourceId: string
  readonly name: string
  readonly eventCode: string
  /** Attribute whose values are the keys ('' when the event has no string attribute: the name is the key). */
  readonly keyAttr: string
  /** Attribute whose values are summed ('' when it has no integer attribute: events are counted). */
  readonly amountAttr: string
  /** Position of the definition in the control store. */
  readonly position: number
}

/** The definition an `event.defined` record makes; null for any other record. */
export function toStatisticsDefinition(
  record: Pick<ControlRecord, 'position' | 'type' | 'data'>,
): StatisticsDefinition | null {
  if (record.type !== 'event.defined') return null
  const parsed = EventDefined.safeParse({ ...(record.data as object), type: record.type })
  if (!parsed.success) throw new InvalidLogRecordError(record.position, parsed.error.message)
  const { keyAttr, amountAttr } = statisticsAttributes(parsed.data.attrs)
  return {
    accountId: parsed.data.accountId,
    sourceId: parsed.data.sourceId,
    name: parsed.data.name,
    eventCode: parsed.data.eventCode,
    keyAttr: keyAttr ?? '',
    amountAttr: amountAttr ?? '',
    position: record.position,
  }
}

/** Event definitions by source and name. Definitions do not change: the first one recorded for a name stands. */
export interface TrackingPlans {
  /** Keeps a definition unless its source already defined that name. */
  remember(definition: StatisticsDefinition): void
  /** The source's definition of a name, whenever it was recorded. */
  find(sourceId: string, name: string): StatisticsDefinition | undefined
}

export function createTrackingPlans(): TrackingPlans {
  const bySource = new Map<string, Map<string, StatisticsDefinition>>()
  return {
    remember(definition) {
      const plan = bySource.get(definition.sourceId) ?? new Map<string, StatisticsDefinition>()
      if (!plan.has(definition.name)) plan.set(definition.name, definition)
      bySource.set(definition.sourceId, plan)
    },
    find: (sourceId, name) => bySource.get(sourceId)?.get(name),
  }
}
