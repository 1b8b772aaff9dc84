export interface FailureBackoffOptions {
  /** Failures a key may have in a window before it must wait. */
  readonly free: number
  readonly windowMs: number
  /** Keys remembered at most; past that the oldest is forgotten (memory stays bounded under a flood). */
  readonly maxKeys: number
  /** Longest wait; also how long a key that failed past its free failures is remembered. */
  readonly maxWaitMs: number
  readonly now?: () => number
}

/** Failed attempts per key (an account's sign-ins), with a wait that doubles at each failure past the free ones. */
export interface FailureBackoff {
  /** How long the key must still wait before its next attempt, in ms; 0 when it may try now. */
  waitOf(key: string): number
  /** A failed attempt (or one under way): from the last free failure of a window on, the key waits one window, then two, four… */
  fail(key: string): void
  /** A successful attempt forgets the key's failures. */
  succeed(key: string): void
}

interface KeyState {
  /** Failures since `windowStart`, or since the first wait (waits are never forgiven by a new window). */
  failures: number
  windowStart: number
  waits: number
  until: number
  lastFailure: number
}

/**
 * Growing back-off after repeated failures. A window's first `free` failures cost nothing; then
 * each failure makes the key wait twice as long as the one before, however long the caller
 * waited in between, until it succeeds or stays quiet for `maxWaitMs`. (A fixed-window limiter
 * forgets a key one window after its last request, so a patient guesser would get `free` more
 * guesses every other window; here it gets one guess per doubling wait.)
 */
export function createFailureBackoff(options: FailureBackoffOptions): FailureBackoff {
  const now = options.now ?? Date.now
  const keys = new Map<string, KeyState>()

  const current = (key: string, at: number): KeyState | undefined => {
    const state = keys.get(key)
    if (!state) return undefined
    const forgotten =
      state.waits === 0
        ? at - state.windowStart >= options.windowMs
        : at - state.lastFailure >= options.maxWaitMs
    if (!forgotten) return state
    keys.delete(key)
    return undefined
  }

  return {
    waitOf(key) {
      const at = now()
      return Math.max(0, (current(key, at)?.until ?? 0) - at)
    },
    fail(key) {
      const at = now()
      let state = current(key, at)
      if (!state) {
        if (keys.size >= options.maxKeys) keys.delete(keys.keys().next().value as string)
        state = { failures: 0, windowStart: at, waits: 0, until: 0, lastFailure: at }
        keys.set(key, state)
      }
      state.failures++
      state.lastFailure = at
      if (state.failures >= options.free) {
        state.until = at + Math.min(options.maxWaitMs, options.windowMs * 2 ** state.waits)
        state.waits++
      }
    },
    succeed(key) {
      keys.delete(key)
    },
  }
}
