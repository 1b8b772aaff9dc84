/**
 * Entries that live a fixed time from when they started (sessions, issued tokens), kept in the
 * order they were added: records are folded in log order, so the expired ones are at the front
 * and are dropped from there. An expired entry is never answered, even before it is dropped.
 */
export interface ExpiringEntries<K, V> {
  /** Adds an entry that started at `startedOf(value)`; one expired already, or a key held already, is ignored. */
  add(key: K, value: V): void
  /** The live entry of a key. */
  get(key: K): V | undefined
  /** Live entries, oldest first. */
  live(): [K, V][]
  /** How many entries are live. */
  size(): number
  /** Drops the expired entries from the front; true when none is left. */
  prune(): boolean
}

export interface Lifetime {
  readonly lifetimeMs: number
  /** The clock (epoch ms) entries expire by. */
  readonly now: () => number
}

export function expiringEntries<K, V>(
  { lifetimeMs, now }: Lifetime,
  startedOf: (value: V) => number,
): ExpiringEntries<K, V> {
  const entries = new Map<K, V>()
  const isLive = (value: V) => startedOf(value) + lifetimeMs > now()
  const prune = () => {
    for (const [key, value] of entries) {
      if (isLive(value)) break
      entries.delete(key)
    }
    return entries.size === 0
  }
  return {
    add(key, value) {
      prune()
      if (isLive(value) && !entries.has(key)) entries.set(key, value)
    },
    get(key) {
      const value = entries.get(key)
      return value !== undefined && isLive(value) ? value : undefined
    },
    live() {
      prune()
      return [...entries].filter(([, value]) => isLive(value))
    },
    size() {
      prune()
      return entries.size
    },
    prune,
  }
}

/**
 * Expiring entries in groups (a source's sessions): a group is dropped once all its entries have
 * expired, and every group is pruned now and then (at most once per `sweepMs`), so that a group
 * nobody asks about again still lets go of what it held.
 */
export function expiringGroups<K, V>(lifetime: Lifetime, startedOf: (value: V) => number, sweepMs: number) {
  const groups = new Map<string, ExpiringEntries<K, V>>()
  let sweptAt = lifetime.now()
  const sweep = () => {
    if (lifetime.now() - sweptAt < sweepMs) return
    sweptAt = lifetime.now()
    for (const [id, entries] of groups) if (entries.prune()) groups.delete(id)
  }
  return {
    /** The group's entries, if it has any. */
    of(id: string): ExpiringEntries<K, V> | undefined {
      sweep()
      return groups.get(id)
    },
    add(id: string, key: K, value: V) {
      sweep()
      let entries = groups.get(id)
      if (!entries) {
        entries = expiringEntries<K, V>(lifetime, startedOf)
        groups.set(id, entries)
      }
      entries.add(key, value)
    },
  }
}
