import type { IngestRules } from '@hourglass/control'
import { describeValueType, type FieldIssue, matchesAttrType } from '@hourglass/schemas'

/** The parts of an event its source's tracking plan and sessions speak about. */
export interface PlannedEvent {
  readonly name: string
  readonly session?: string | undefined
  readonly attrs: Readonly<Record<string, unknown>>
}

/** Shared and frozen: callers only read it. */
const NO_ISSUES = Object.freeze([]) as unknown as FieldIssue[]

/**
 * What is wrong with an event under its source's rules, each at its path below `prefix`
 * (`events[3]`): an event of a defined name must carry exactly the defined attributes, each of
 * its type; a strict source refuses names it does not define; a source that registers sessions
 * refuses sessions it does not know.
 */
export function checkAgainstPlan(event: PlannedEvent, rules: IngestRules, prefix: string): FieldIssue[] {
  const definition = rules.definition(event.name)
  // Most events of most sources: nothing defined, nothing refused. Answered before any work.
  if (
    !definition &&
    rules.settings.undefinedEvents !== 'reject' &&
    (event.session === undefined || rules.settings.unknownSessions !== 'reject')
  )
    return NO_ISSUES
  const issues: FieldIssue[] = []
  const at = (path: string) => `${prefix}.${path}`
  if (definition) {
    const defined = new Map(definition.attrs.map((attr) => [attr.name, attr.type]))
    for (const { name, type } of definition.attrs) {
      if (!Object.hasOwn(event.attrs, name)) {
        issues.push({
          path: at(`attrs.${name}`),
          message: `is missing: "${event.name}" defines it as ${type}`,
        })
      } else if (!matchesAttrType(type, event.attrs[name])) {
        issues.push({
          path: at(`attrs.${name}`),
          message: `must be ${type === 'integer' ? 'an integer' : `a ${type}`} as "${event.name}" defines it, not ${describeValueType(event.attrs[name])}`,
        })
      }
    }
    for (const name of Object.keys(event.attrs)) {
      if (!defined.has(name)) {
        const known = definition.attrs.map((attr) => attr.name).join(', ') || 'none'
        issues.push({
          path: at(`attrs.${name}`),
          message: `is not an attribute of "${event.name}" (its attributes: ${known})`,
        })
      }
    }
  } else if (rules.settings.undefinedEvents === 'reject') {
    issues.push({
      path: at('name'),
      message: `"${event.name}" is not a defined event of this source, which accepts defined events only`,
    })
  }
  if (
    event.session !== undefined &&
    rules.settings.unknownSessions === 'reject' &&
    !rules.sessionKnown(event.session)
  ) {
    issues.push({
      path: at('session'),
      message: 'is not a live session of this source (sessions expire): start a session first',
    })
  }
  return issues
}
