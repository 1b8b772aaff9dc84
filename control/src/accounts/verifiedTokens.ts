/**
 * Signed tokens already verified, by their exact text, until they expire. Checking an HS256
 * signature through WebCrypto costs about 0.1 ms, more than answering a cached read; a token
 * seen before is the same bytes under the same signature, so its claims need not be checked
 * again until its `exp`. Bounded: past `capacity` tokens, the oldest verified is forgotten
 * (verified again when it returns). Whatever else a request needs (its account still existing,
 * its store still active) is checked on every request by the caller, as before.
 */
export interface VerifiedTokens<T> {
  /** What a token verified to, `'expired'` once past its `exp`, undefined when not known. */
  get(token: string): T | 'expired' | undefined
  /** Keeps what `token` verified to, until `expSeconds` (its `exp` claim, epoch seconds). */
  set(token: string, value: T, expSeconds: number): void
}

export function verifiedTokens<T>(capacity = 4_096): VerifiedTokens<T> {
  const known = new Map<string, { value: T; expSeconds: number }>()
  return {
    get(token) {
      const entry = known.get(token)
      if (!entry) return undefined
      // As jose counts it: expired once the current whole second reaches `exp`.
      if (entry.expSeconds <= Math.floor(Date.now() / 1000)) {
        known.delete(token)
        return 'expired'
      }
      return entry.value
    },
    set(token, value, expSeconds) {
      if (known.size >= capacity && !known.has(token)) known.delete(known.keys().next().value!)
      known.set(token, { value, expSeconds })
    },
  }
}
