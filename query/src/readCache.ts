import type { WarehouseChange, WarehouseChangeListener } from '@hourglass/projections'
import { LRUCache } from 'lru-cache'

export const HOUR_MS = 3600_000
export const floorHour = (ms: number) => Math.floor(ms / HOUR_MS) * HOUR_MS
export const ceilHour = (ms: number) => Math.ceil(ms / HOUR_MS) * HOUR_MS

/** What a cached answer was read from: one source of an account (or all of them), over event-time hours. */
export interface AnswerScope {
  readonly accountId: string
  /** null: every source of the account. */
  readonly sourceId: string | null
  /** Hours read, [fromHour, toHour), as epoch ms of their start; `Infinity` for no end. */
  readonly fromHour: number
  readonly toHour: number
}

/**
 * Answers (JSON, as the bytes sent) kept until a projection writes into what they were read from.
 * The projections of this process tell it (`WarehouseChangeListener`) before and after each
 * batch which hours of which sources the batch writes; every answer that read one of them is
 * dropped both times. A read keeps its answer only if no write to its scope began or ended
 * while it ran, nor is under way: so no answer read before or during a write outlives it.
 */
export interface ReadCache extends WarehouseChangeListener {
  get(key: string): Buffer | undefined
  /** To call before reading an answer that `store` may keep. */
  mark(): number
  /** Keeps `value` unless a write to `scope` began or ended since `mark`, or is under way; says whether it did. */
  store(key: string, value: Buffer, scope: AnswerScope, mark: number): boolean
  /**
   * `read()`'s outcome, or that of the latest read of the same `key` under way, when no write to
   * `scope` has ended since that read began: it sees every write a read starting now must see
   * (those ended before now), and writes still under way are no reader's due. Concurrent readers
   * of one thing ask the warehouse once, even while projections keep writing what they read.
   */
  shared<T>(key: string, scope: AnswerScope, read: () => Promise<T>): Promise<T>
}

interface Entry {
  readonly value: Buffer
  readonly scope: AnswerScope
}

/** Writes under way to a scope, when one last began or ended, and when one last ended (`mark`s). */
interface Activity {
  pending: number
  changedAt: number
  endedAt: number
}

const ANY_SOURCE = '*'
const scopeKey = (accountId: string, sourceId: string | null) => `${accountId}\u0000${sourceId ?? ANY_SOURCE}`

/** Whether any of the sorted hours falls in [from, to). */
const anyIn = (hours: readonly number[], from: number, to: number) => {
  let lo = 0
  let hi = hours.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (hours[mid]! < from) lo = mid + 1
    else hi = mid
  }
  return lo < hours.length && hours[lo]! < to
}

/** A read cache holding at most `maxBytes` of answers (and their keys), least recently read first out. */
export function createReadCache(options: { maxBytes: number }): ReadCache {
  /** Entry keys by the scope they read: to find what a write makes stale. */
  const byScope = new Map<string, Set<string>>()
  const entries = new LRUCache<string, Entry>({
    maxSize: options.maxBytes,
    sizeCalculation: (entry, key) => entry.value.length + 2 * key.length + 64,
    dispose: (entry, key) => {
      const keys = byScope.get(scopeKey(entry.scope.accountId, entry.scope.sourceId))
      keys?.delete(key)
    },
  })
  const activity = new Map<string, Activity>()
  const everything: Activity = { pending: 0, changedAt: 0, endedAt: 0 }
  let clock = 0

  const touch = (key: string, delta: number) => {
    const a = activity.get(key) ?? { pending: 0, changedAt: 0, endedAt: 0 }
    activity.set(key, a)
    a.pending += delta
    a.changedAt = clock
    if (delta < 0) a.endedAt = clock
  }

  const drop = (accountId: string, sourceId: string | null, hours: readonly number[]) => {
    const keys = byScope.get(scopeKey(accountId, sourceId))
    if (!keys) return
    for (const key of [...keys]) {
      const entry = entries.peek(key)
      if (!entry || anyIn(hours, entry.scope.fromHour, entry.scope.toHour)) entries.delete(key)
    }
  }

  const apply = (change: WarehouseChange, delta: number) => {
    clock++
    if (change.everything) {
      everything.pending += delta
      everything.changedAt = clock
      if (delta < 0) everything.endedAt = clock
      entries.clear()
      return
    }
    for (const [accountId, scopes] of change.hours) {
      touch(scopeKey(accountId, null), delta)
      for (const [sourceId, set] of scopes) {
        touch(scopeKey(accountId, sourceId), delta)
        const hours = [...set].sort((a, b) => a - b)
        drop(accountId, sourceId, hours)
        drop(accountId, null, hours)
      }
    }
  }

  const quiet = (a: Activity | undefined, mark: number) => !a || (a.pending === 0 && a.changedAt <= mark)
  const quietSince = (scope: AnswerScope, mark: number) =>
    quiet(everything, mark) && quiet(activity.get(scopeKey(scope.accountId, scope.sourceId)), mark)
  const noneEnded = (a: Activity | undefined, mark: number) => !a || a.endedAt <= mark
  const noneEndedSince = (scope: AnswerScope, mark: number) =>
    noneEnded(everything, mark) && noneEnded(activity.get(scopeKey(scope.accountId, scope.sourceId)), mark)
  /** The latest read under way of each key, with the `mark` it began at. */
  const underWay = new Map<string, { mark: number; outcome: Promise<unknown> }>()

  return {
    changing: (change) => apply(change, 1),
    changed: (change) => apply(change, -1),
    get: (key) => entries.get(key)?.value,
    mark: () => clock,
    store(key, value, scope, mark) {
      if (!quietSince(scope, mark)) return false
      const forScope = scopeKey(scope.accountId, scope.sourceId)
      const keys = byScope.get(forScope) ?? new Set<string>()
      byScope.set(forScope, keys)
      entries.set(key, { value, scope })
      // An answer larger than the whole cache is not kept.
      if (entries.has(key)) keys.add(key)
      return entries.has(key)
    },
    shared<T>(key: string, scope: AnswerScope, read: () => Promise<T>): Promise<T> {
      const running = underWay.get(key)
      if (running && noneEndedSince(scope, running.mark)) return running.outcome as Promise<T>
      const entry = { mark: clock, outcome: read() }
      // Only the latest: a reader never joins a read older than one another reader already had.
      underWay.set(key, entry)
      const done = () => {
        if (underWay.get(key) === entry) underWay.delete(key)
      }
      entry.outcome.then(done, done)
      return entry.outcome as Promise<T>
    },
  }
}

/** A cache key: the read's name and everything its answer depends on, tenant first. */
export const answerKey = (read: string, accountId: string, params: unknown) =>
  `${read}\u0000${accountId}\u0000${JSON.stringify(params)}`

/**
 * The answer under `key`, or `read()`'s, kept when the cache may keep it. Without a cache (a
 * process whose projections run elsewhere cannot hear their writes), every call reads.
 */
export async function cachedAnswer(
  cache: ReadCache | undefined,
  key: string,
  read: () => Promise<{ readonly json: string; readonly scope: AnswerScope }>,
): Promise<Buffer> {
  const hit = cache?.get(key)
  if (hit !== undefined) return hit
  const mark = cache?.mark() ?? 0
  const { json, scope } = await read()
  const bytes = Buffer.from(json)
  cache?.store(key, bytes, scope, mark)
  return bytes
}
