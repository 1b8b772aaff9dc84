import type { TelemetryLog } from '@hourglass/log'

/** The last log position this process appended (or found already appended) to each telemetry stream. */
export interface AppendedPositions {
  last(stream: string): number | undefined
}

/**
 * The telemetry log as ingest sees it, remembering where each stream's latest append went: a read of a
 * stream then waits for the projections only when this process has appended to it something
 * they have not applied yet, rather than for everything the log holds.
 */
export function trackAppends<L extends TelemetryLog>(log: L): { log: L; positions: AppendedPositions } {
  const lastByStream = new Map<string, number>()
  const appendEvents: TelemetryLog['appendEvents'] = async (records) => {
    const outcomes = await log.appendEvents(records)
    outcomes.forEach((outcome, i) => {
      const stream = records[i]!.stream
      if (outcome.position > (lastByStream.get(stream) ?? -1)) lastByStream.set(stream, outcome.position)
    })
    return outcomes
  }
  const tracked = new Proxy(log, {
    get: (target, property) => {
      if (property === 'appendEvents') return appendEvents
      const value = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  return { log: tracked, positions: { last: (stream) => lastByStream.get(stream) } }
}
