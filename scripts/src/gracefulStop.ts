import type { Logger } from 'pino'

/** Longest a graceful stop may take before the process exits anyway. */
export const STOP_TIMEOUT_MS = 30_000

/**
 * Stops the process on SIGINT or SIGTERM: `close` finishes what is under way, then the process
 * exits 0. A statement the warehouse never answers must not keep it from stopping: after
 * `timeoutMs`, or at a second signal, it exits 1 at once, and what was under way is repaired at
 * the next start, as after a crash.
 */
export function stopOnSignals(
  logger: Logger,
  close: () => Promise<void>,
  fields: Record<string, unknown> = {},
  timeoutMs = STOP_TIMEOUT_MS,
) {
  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) {
      logger.warn({ ...fields, signal }, 'stopping now; whatever was under way is repaired at the next start')
      process.exit(1)
    }
    stopping = true
    logger.info({ ...fields, signal }, 'stopping: finishing the requests and the projection batch under way')
    setTimeout(() => {
      logger.error(
        { ...fields, afterMs: timeoutMs },
        'could not stop in time; exiting, and whatever was under way is repaired at the next start',
      )
      process.exit(1)
    }, timeoutMs).unref()
    await close()
    logger.info(fields, 'stopped')
    process.exit(0)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
}
