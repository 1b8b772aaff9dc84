import type { Database } from 'lmdb'

/** Bits per key and probes per key: about 1% false positives at capacity. */
const BITS_PER_KEY = 10
const PROBES = 7
/** The largest filter (128 MiB, for about 100 million ids); past it every id is looked up. */
const MAX_BITS = 2 ** 30
/** Keys read from the file per turn of the event loop while a filter is filled. */
const SCAN_CHUNK = 20_000

/**
 * A Bloom filter over strings, blocked (a key's probes share one cache line, so a lookup costs one
 * memory access): `mightHave` is false only for a key never added. Written here
 * rather than taken from a package because it sits on the append path of every event: one pass
 * over the key's characters gives both hashes, and nothing is allocated per key.
 */
export class KeyFilter {
  readonly capacity: number
  private readonly words: Uint32Array
  /** Blocks of 512 bits (a cache line): all of a key's probes fall in one. */
  private readonly blockMask: number
  private added = 0

  constructor(capacity: number) {
    let bits = 1024
    while (bits < capacity * BITS_PER_KEY && bits < MAX_BITS) bits *= 2
    this.capacity = Math.floor(bits / BITS_PER_KEY)
    this.words = new Uint32Array(bits / 32)
    this.blockMask = bits / 512 - 1
  }

  /**
   * Distinct keys added so far: a key added again (the fill reading back an id this process has
   * just added) does not count, nor does the rare new key whose bits were all set already.
   */
  get size(): number {
    return this.added
  }

  add(key: string): void {
    hash(key)
    const block = (hashA & this.blockMask) << 4
    let fresh = false
    for (let i = 0; i < PROBES; i++) {
      const bit = (hashB + Math.imul(i, hashC)) & 511
      const word = block + (bit >>> 5)
      const mask = 1 << (bit & 31)
      if ((this.words[word]! & mask) === 0) {
        this.words[word]! |= mask
        fresh = true
      }
    }
    if (fresh) this.added += 1
  }

  mightHave(key: string): boolean {
    hash(key)
    const block = (hashA & this.blockMask) << 4
    for (let i = 0; i < PROBES; i++) {
      const bit = (hashB + Math.imul(i, hashC)) & 511
      if ((this.words[block + (bit >>> 5)]! & (1 << (bit & 31))) === 0) return false
    }
    return true
  }
}

/** The hashes of `lastKey` (its block, first probe, probe step): module state, so hashing allocates nothing. */
let hashA = 0
let hashB = 0
let hashC = 0
/** The key hashed last: the append path asks about a key, then adds that same key. */
let lastKey: string | undefined

/** Sets `hashA`, `hashB` and `hashC` from two 32-bit hashes of the key (FNV-1a and a multiply-xorshift). */
function hash(key: string): void {
  if (key === lastKey) return
  lastKey = key
  let a = 0x811c9dc5
  let b = 0x9747b28c
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i)
    a = Math.imul(a ^ c, 0x01000193)
    b = Math.imul(b ^ c, 0x5bd1e995)
    b ^= b >>> 15
  }
  hashA = finalise(a)
  hashB = finalise(b)
  // Odd, so that the probes b + i·c never repeat within one key.
  hashC = finalise(a ^ b) | 1
}

function finalise(value: number): number {
  let h = value
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** The key of an id in its stream, as the filter and a commit's own bookkeeping know it. */
export const idKey = (stream: string, id: string) => `${stream}\u0000${id}`

export interface AppendedIds {
  /**
   * False when no record of this stream has the id, for certain; true when one may have it (the
   * log's id index decides). Always true until the ids already in the file have been read.
   */
  mayHave(key: string): boolean
  /** An id this process has just written. */
  added(key: string): void
  /** After a commit is durable: a filter past its capacity is replaced by a larger one. */
  afterCommit(): void
  /** Forgets the filter and fills a new one from the file: another process wrote ids. */
  refill(): void
  state(): 'idle' | 'filling' | 'ready' | 'off'
  /** Ids the current filter is sized for (0 when off). */
  capacity(): number
  close(): void
}

/**
 * Which ids the log holds, as a Bloom filter in front of its id index: most appended ids are new,
 * and the filter answers for them without a B-tree lookup. The filter is filled from the index
 * when the first id is asked about (a process that only reads the log never fills one), in the
 * background, a chunk per turn of the event loop, so a large log stays available; until it is
 * full every id is looked up, as before. Ids written meanwhile go straight into it.
 */
export function trackAppendedIds(
  ids: Database<number, [string, string]>,
  options: { minCapacity?: number } = {},
): AppendedIds {
  const minCapacity = options.minCapacity ?? 1_000_000
  let filter: KeyFilter | null = null
  let started = false
  let ready = false
  let generation = 0
  let closed = false

  const start = () => {
    started = true
    generation += 1
    ready = false
    const stored = (ids.getStats() as { entryCount?: number }).entryCount ?? 0
    const wanted = Math.max(minCapacity, stored * 2)
    filter = wanted * BITS_PER_KEY <= MAX_BITS ? new KeyFilter(wanted) : null
    if (filter) scan(generation, filter)
  }

  const scan = (mine: number, into: KeyFilter) => {
    let from: [string, string] | undefined
    const step = () => {
      if (closed || mine !== generation) return
      let read = 0
      let last: [string, string] | undefined
      // `start` is inclusive: each chunk reads the previous chunk's last key again, harmlessly.
      for (const key of ids.getKeys(from ? { start: from, limit: SCAN_CHUNK } : { limit: SCAN_CHUNK })) {
        into.add(idKey(key[0], key[1]))
        last = key
        read += 1
      }
      if (read < SCAN_CHUNK) {
        ready = true
        return
      }
      from = last
      setImmediate(step)
    }
    setImmediate(step)
  }

  return {
    mayHave(key) {
      if (!started) start()
      return !ready || filter === null || filter.mightHave(key)
    },
    added(key) {
      filter?.add(key)
    },
    afterCommit() {
      if (filter !== null && filter.size > filter.capacity) start()
    },
    refill: start,
    state: () => (!started ? 'idle' : filter === null ? 'off' : ready ? 'ready' : 'filling'),
    capacity: () => filter?.capacity ?? 0,
    close() {
      closed = true
    },
  }
}
