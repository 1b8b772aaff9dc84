import { scryptSync } from 'node:crypto'

/**
 * One scrypt derivation, in a thread of the password pool (see passwords.ts). Synchronous on
 * purpose: the asynchronous scrypt runs on libuv's thread pool, which the log's file I/O shares,
 * so a burst of sign-ins would queue ahead of the log's commits. Plain JavaScript because a worker
 * thread loads this file by itself, without the TypeScript loader its parent may run under.
 *
 * @param {{ password: string, salt: Uint8Array, keyLength: number, N: number, r: number, p: number, maxmem: number }} task
 * @returns {Uint8Array}
 */
export default function derive({ password, salt, keyLength, N, r, p, maxmem }) {
  return scryptSync(password, salt, keyLength, { N, r, p, maxmem })
}
