import type { LogRecord, SubscribeOptions } from './eventLog.ts'

export interface TailSource {
  read(from: number, limit: number): Promise<LogRecord[]>
  /** Resolves when a record at `position` may exist, or when the signal aborts. */
  waitFor(position: number, signal?: AbortSignal): Promise<void>
}

/** A pull-based tail of the log: each batch is read when the consumer asks for the next. */
export async function* tail(source: TailSource, from: number, options: SubscribeOptions = {}) {
  const batchSize = options.batchSize ?? 1000
  let next = from
  while (!options.signal?.aborted) {
    const batch = await source.read(next, batchSize)
    if (batch.length === 0) {
      await source.waitFor(next, options.signal)
      continue
    }
    next = batch[batch.length - 1]!.position + 1
    yield batch
  }
}
