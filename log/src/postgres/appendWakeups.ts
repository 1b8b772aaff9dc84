import { APPENDED_CHANNEL } from './postgresControlAppends.ts'
import type { PostgresListener, PostgresPool } from './postgresPool.ts'

/** Waiters for records at a position, woken by the appends' notifications. */
export function createAppendWakeups(pool: PostgresPool, nextPosition: () => Promise<number>) {
  const waiters = new Set<{ readonly from: number; wake(): void }>()
  let listening: Promise<PostgresListener> | null = null
  let heard = 0
  let stopped = false

  const wakeFrom = (next: number) => {
    heard = Math.max(heard, next)
    for (const waiter of waiters) if (waiter.from < heard) waiter.wake()
  }
  const listen = () => {
    listening ??= pool
      .listen(
        APPENDED_CHANNEL,
        (payload) => {
          const [schema, next] = payload.split(' ')
          if (schema === pool.schema && Number.isSafeInteger(Number(next))) wakeFrom(Number(next))
        },
        () => {
          // Notifications sent meanwhile are lost: every waiter reads, and the next wait listens anew.
          listening = null
          for (const waiter of waiters) waiter.wake()
        },
      )
      .catch((error: unknown) => {
        listening = null
        throw error
      })
    return listening
  }

  return {
    async wait(from: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
      if (from < heard) return true
      await listen()
      if (stopped) return true
      return new Promise<boolean>((resolve, reject) => {
        const finish = (outcome: boolean | Error) => {
          if (!waiters.delete(waiter)) return
          clearTimeout(timer)
          signal?.removeEventListener('abort', aborted)
          if (outcome instanceof Error) reject(outcome)
          else resolve(outcome)
        }
        const waiter = { from, wake: () => finish(true) }
        const aborted = () => finish(false)
        const timer = setTimeout(() => finish(false), timeoutMs)
        waiters.add(waiter)
        signal?.addEventListener('abort', aborted)
        if (signal?.aborted) return finish(false)
        // Listening before looking: a record appended in between is either seen here or heard.
        nextPosition().then(
          (next) => (next > from ? finish(true) : undefined),
          (error: Error) => finish(error),
        )
      })
    },
    async close() {
      stopped = true
      for (const waiter of waiters) waiter.wake()
      const current = listening
      listening = null
      if (current) await (await current.catch(() => null))?.close()
    },
  }
}
