import type { ControlPlane, EventDefinition, IngestRules, Source } from '@hourglass/control'
import type { TelemetryLog } from '@hourglass/log'
import type { FieldIssue, TelemetryEvent } from '@hourglass/schemas'
import { validateEvents } from '../eventBatch.ts'

export type SingleEventResult =
  | { readonly status: 'appended' | 'duplicate'; readonly event: TelemetryEvent; readonly position: number }
  /** Issues at paths relative to the event (`attrs.quantity`, `session`). */
  | { readonly status: 'rejected'; readonly issues: FieldIssue[] }

const PREFIX = 'events[0]'

export interface SingleEventOptions {
  /** When the event arrived (default: now). */
  readonly receivedAt?: number
  /**
   * The definition the event is checked against, from its tracking plan's: an adapter whose
   * clients may leave attributes out checks only those the event carries.
   */
  readonly narrowDefinition?: (definition: EventDefinition) => EventDefinition
}

/**
 * One event through the same checks as `POST /v1/events` (the envelope, the source's tracking
 * plan and sessions), appended durably when valid. For adapters whose APIs take one event.
 */
export async function appendSingleEvent(
  deps: { readonly telemetry: TelemetryLog; readonly controlPlane: ControlPlane },
  source: Source,
  input: unknown,
  { receivedAt = Date.now(), narrowDefinition }: SingleEventOptions = {},
): Promise<SingleEventResult> {
  const planned = await deps.controlPlane.apps.ingestRules(source, [input])
  const rules: IngestRules = narrowDefinition
    ? {
        ...planned,
        definition: (name) => {
          const definition = planned.definition(name)
          return definition && narrowDefinition(definition)
        },
      }
    : planned
  const batch = validateEvents(source, [input], receivedAt, rules)
  const rejected = batch.rejected[0]
  if (rejected) {
    return {
      status: 'rejected',
      issues: rejected.issues.map(({ path, message }) => ({
        path: path === PREFIX ? '' : path.startsWith(`${PREFIX}.`) ? path.slice(PREFIX.length + 1) : path,
        message,
      })),
    }
  }
  const record = batch.records[0]!
  const [outcome] = await deps.telemetry.appendEvents([record])
  if (!outcome) throw new Error('the log answered no outcome for one record')
  return { status: outcome.status, event: record.data as TelemetryEvent, position: outcome.position }
}
