import type { TelemetryRecord } from '@hourglass/log'

const HOUR_MS = 3600_000
/** Telemetry streams are `source-<scope>` (see `telemetryStream`): one source, or one store. */
const TELEMETRY_STREAM_PREFIX = 'source-'

/**
 * What a write may change in the warehouse: per account and scope (a source or a store), the
 * event-time hours a batch writes, or everything (an erasure, a replay: what those change is not
 * confined to the hours of a batch).
 */
export interface WarehouseChange {
  readonly everything: boolean
  /** accountId → scope → hours (epoch ms of their start). */
  readonly hours: ReadonlyMap<string, ReadonlyMap<string, ReadonlySet<number>>>
}

export const EVERYTHING_CHANGES: WarehouseChange = { everything: true, hours: new Map() }

/**
 * Told by the projection worker what it is about to write and when it is done: how a cache of
 * answers in the same process learns which of them a write makes stale.
 */
export interface WarehouseChangeListener {
  /** Before the first statement of a batch. */
  changing(change: WarehouseChange): void
  /** Once the batch is written, or the attempt has failed (it may have written part of it). */
  changed(change: WarehouseChange): void
}

const eventTime = (data: unknown): { accountId: string; timestamp: number } | null => {
  if (typeof data !== 'object' || data === null) return null
  const { accountId, timestamp } = data as { accountId?: unknown; timestamp?: unknown }
  return typeof accountId === 'string' && typeof timestamp === 'number' && Number.isFinite(timestamp)
    ? { accountId, timestamp }
    : null
}

/** The hours a batch writes: every telemetry record by its scope and event time; anything else, everything. */
export function changeOf(records: readonly TelemetryRecord[]): WarehouseChange {
  const hours = new Map<string, Map<string, Set<number>>>()
  // Records of a batch mostly come in runs of one stream and hour: those cost a comparison each.
  let lastStream = ''
  let lastAccount = ''
  let lastHour = Number.NaN
  for (const record of records) {
    const event = record.stream.startsWith(TELEMETRY_STREAM_PREFIX) ? eventTime(record.data) : null
    if (!event) return EVERYTHING_CHANGES
    const hour = Math.floor(event.timestamp / HOUR_MS) * HOUR_MS
    if (record.stream === lastStream && event.accountId === lastAccount && hour === lastHour) continue
    lastStream = record.stream
    lastAccount = event.accountId
    lastHour = hour
    const scope = record.stream.slice(TELEMETRY_STREAM_PREFIX.length)
    const scopes = hours.get(event.accountId) ?? new Map<string, Set<number>>()
    hours.set(event.accountId, scopes)
    const set = scopes.get(scope) ?? new Set<number>()
    scopes.set(scope, set)
    set.add(hour)
  }
  return { everything: false, hours }
}

/**
 * Adds `change` to `into`, giving what it adds (null when nothing): how a write told its hours a
 * chunk at a time tells each of them once. Once `into` holds everything it takes no more hours;
 * the hours it took before stay, to be told as changed on their own.
 */
export function addChange(
  into: { everything: boolean; hours: Map<string, Map<string, Set<number>>> },
  change: WarehouseChange,
): WarehouseChange | null {
  if (into.everything) return null
  if (change.everything) {
    into.everything = true
    return EVERYTHING_CHANGES
  }
  const added = new Map<string, Map<string, Set<number>>>()
  for (const [account, scopes] of change.hours) {
    for (const [scope, hours] of scopes) {
      for (const hour of hours) {
        if (!setIn(into.hours, account, scope).has(hour)) {
          setIn(into.hours, account, scope).add(hour)
          setIn(added, account, scope).add(hour)
        }
      }
    }
  }
  return added.size === 0 ? null : { everything: false, hours: added }
}

/** The set of hours of an account's scope in `hours`, made empty where it was missing. */
function setIn(hours: Map<string, Map<string, Set<number>>>, account: string, scope: string) {
  const scopes = hours.get(account) ?? new Map<string, Set<number>>()
  hours.set(account, scopes)
  const set = scopes.get(scope) ?? new Set<number>()
  scopes.set(scope, set)
  return set
}
