import type { LogRecord, SubscribeOptions } from './eventLog.ts'

export interface TailSource {
  read(from: number, limit: number): Promise<LogRecord[]>
  /** Resolves when a record at `position` may exist, or when the signal aborts. */
  waitFor(position: number, signal?: AbortSignal): Promise<void>
}

/** A pull-based tail of the log: each batch is read when the consumer asks for the next. */
export async function* tail(source: TailSource, from: number, options: SubscribeOptions = {}) {
  const batchSize = options.batchSize ?? 1000
  const lingerMs = options.lingerMs ?? 0
  let next = from
  while (!options.signal?.aborted) {
    let batch = await source.read(next, batchSize)
    if (batch.length === 0) {
      await source.waitFor(next, options.signal)
      continue
    }
    const wait = lingerMs - (Date.now() - batch[0]!.recordedAt)
    if (batch.length < batchSize && wait > 0 && !options.signal?.aborted) {
      await sleep(Math.min(wait, lingerMs), options.signal)
      const last = batch[batch.length - 1]!.position
      batch = batch.concat(await source.read(last + 1, batchSize - batch.length))
    }
    next = batch[batch.length - 1]!.position + 1
    yield batch
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
