import { randomUUID } from 'node:crypto'
import type { IngestRules, Source } from '@hourglass/control'
import type { AppendOutcome, NewTelemetryRecord } from '@hourglass/log'
import {
  type FieldIssue,
  parseEventInput,
  TELEMETRY_EVENT,
  type TelemetryEvent,
  telemetryStream,
  toFieldIssues,
} from '@hourglass/schemas'
import { z } from 'zod'
import { checkAgainstPlan } from './apps/trackingPlanCheck.ts'

export const MAX_EVENTS_PER_REQUEST = 1000

export const EventBatchBody = z.object({
  events: z
    .array(z.unknown())
    .min(1, { error: 'must hold at least one event' })
    .max(MAX_EVENTS_PER_REQUEST, { error: `must hold at most ${MAX_EVENTS_PER_REQUEST} events` }),
})

export const EventResult = z.discriminatedUnion('status', [
  z.object({ index: z.number(), status: z.literal('accepted'), id: z.string(), position: z.number() }),
  z.object({ index: z.number(), status: z.literal('duplicate'), id: z.string(), position: z.number() }),
  z.object({
    index: z.number(),
    status: z.literal('rejected'),
    issues: z.array(z.object({ path: z.string(), message: z.string() })),
  }),
  z.object({ index: z.number(), status: z.literal('not_appended'), id: z.string() }),
])
export type EventResult = z.infer<typeof EventResult>

export interface ValidatedBatch {
  readonly records: NewTelemetryRecord[]
  /** Index in the request of each record. */
  readonly indexes: number[]
  readonly rejected: { index: number; issues: FieldIssue[] }[]
}

/**
 * Validates each event of a request on its own and stamps the valid ones for the log. With
 * `rules`, events are also held to the source's tracking plan and sessions.
 */
export function validateEvents(
  source: Source,
  events: readonly unknown[],
  receivedAt: number,
  rules?: IngestRules,
): ValidatedBatch {
  const records: NewTelemetryRecord[] = []
  const indexes: number[] = []
  const rejected: ValidatedBatch['rejected'] = []
  const stream = telemetryStream(source.sourceId)
  events.forEach((raw, index) => {
    const parsed = parseEventInput(raw)
    if (!parsed.success) {
      rejected.push({ index, issues: toFieldIssues(parsed.error.issues, `events[${index}]`) })
      return
    }
    const input = parsed.data
    const planIssues = rules ? checkAgainstPlan(input, rules, `events[${index}]`) : []
    if (planIssues.length > 0) {
      rejected.push({ index, issues: planIssues })
      return
    }
    const event: TelemetryEvent = {
      id: input.id ?? randomUUID(),
      accountId: source.accountId,
      sourceId: source.sourceId,
      name: input.name,
      timestamp: input.timestamp,
      receivedAt,
      attrs: input.attrs,
    }
    // Set one by one rather than spread from temporary objects: this runs for every event.
    if (input.subject !== undefined) event.subject = input.subject
    if (input.session !== undefined) event.session = input.session
    if (input.category !== undefined) event.category = input.category
    records.push({
      stream,
      id: event.id,
      type: TELEMETRY_EVENT,
      data: event,
    })
    indexes.push(index)
  })
  return { records, indexes, rejected }
}

/** One result per item of a request, in request order; `outcomes` null when nothing was appended. */
export function describeResults(
  batch: Pick<ValidatedBatch, 'records' | 'indexes' | 'rejected'>,
  outcomes: readonly AppendOutcome[] | null,
  total: number,
  /** The id to report for a record: its log id unless the request knows it by another. */
  idOf: (record: NewTelemetryRecord) => string = (record) => record.id,
): EventResult[] {
  const results: EventResult[] = new Array(total)
  for (const { index, issues } of batch.rejected) results[index] = { index, status: 'rejected', issues }
  batch.records.forEach((record, i) => {
    const index = batch.indexes[i]!
    const id = idOf(record)
    const outcome = outcomes?.[i]
    results[index] = outcome
      ? {
          index,
          status: outcome.status === 'appended' ? 'accepted' : 'duplicate',
          id,
          position: outcome.position,
        }
      : { index, status: 'not_appended', id }
  })
  return results
}
