import { randomBytes, timingSafeEqual } from 'node:crypto'
import { HourglassError } from '@hourglass/schemas'
import { Piscina } from 'piscina'

/** scrypt with N=2^15, r=8, p=1: 32 MiB of memory per hash, which is what makes guessing expensive. */
const PARAMS = { N: 2 ** 15, r: 8, p: 1 }
const MAX_MEMORY = 64 * 1024 * 1024
const KEY_LENGTH = 32

/**
 * What an unknown user's password is checked against, so that both cases take as long: the same
 * parameters as a real hash, a salt and a hash nobody derived (no password matches it, and a match
 * would not sign anyone in). A constant: nothing is computed when this module loads.
 */
const DECOY_HASH = ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, 'A'.repeat(22), 'A'.repeat(43)].join('$')

export interface PasswordHasherOptions {
  /** Worker threads that derive hashes: at most this many hashes are computed at once. */
  readonly threads: number
  /** Hashes that may wait for a thread; one more is refused with 429 rather than queued. */
  readonly queue: number
}

export interface PasswordHasher {
  /** `scrypt$N$r$p$salt$hash`, base64url: the parameters travel with the hash so they can be raised later. */
  hash(password: string): Promise<string>
  /**
   * Whether `password` is the one `stored` was made from. With `stored` null (no such user) it
   * takes as long and answers false, so timing does not tell which users exist.
   */
  verify(password: string, stored: string | null): Promise<boolean>
  close(): Promise<void>
}

/**
 * Password hashing on a pool of worker threads of its own, with bounded concurrency and a bounded
 * queue. Hashing never runs on libuv's thread pool, which the log's commits use: a sign-in flood
 * costs at most `threads` cores and never delays an append.
 */
export function createPasswordHasher(options: PasswordHasherOptions): PasswordHasher {
  const pool = new Piscina({
    filename: new URL('./scryptWorker.js', import.meta.url).href,
    minThreads: 0,
    maxThreads: options.threads,
    // Threads that have been idle this long end; the next hash starts one again.
    idleTimeout: 60_000,
  })
  let pending = 0

  const derive = async (password: string, salt: Buffer, params: { N: number; r: number; p: number }) => {
    if (pending >= options.threads + options.queue) {
      throw new HourglassError(
        'PASSWORD_CHECKS_BUSY',
        'too many passwords are being checked right now; retry shortly',
        { retryAfterSeconds: 1 },
      )
    }
    pending++
    try {
      const key: Uint8Array = await pool.run({
        password: password.normalize('NFKC'),
        salt,
        keyLength: KEY_LENGTH,
        ...params,
        maxmem: MAX_MEMORY,
      })
      return Buffer.from(key)
    } finally {
      pending--
    }
  }

  const parse = (stored: string) => {
    const [scheme, n, r, p, salt, hash] = stored.split('$')
    if (scheme !== 'scrypt' || !salt || !hash) return null
    return { params: { N: Number(n), r: Number(r), p: Number(p) }, salt, hash }
  }

  return {
    async hash(password) {
      const salt = randomBytes(16)
      const key = await derive(password, salt, PARAMS)
      return [
        'scrypt',
        PARAMS.N,
        PARAMS.r,
        PARAMS.p,
        salt.toString('base64url'),
        key.toString('base64url'),
      ].join('$')
    },
    async verify(password, stored) {
      const parsed = parse(stored ?? DECOY_HASH)
      if (!parsed) return false
      const expected = Buffer.from(parsed.hash, 'base64url')
      const key = await derive(password, Buffer.from(parsed.salt, 'base64url'), parsed.params)
      return stored !== null && key.length === expected.length && timingSafeEqual(key, expected)
    },
    close: () => pool.destroy(),
  }
}
