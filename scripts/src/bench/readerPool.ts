import { forkBenchChild } from './benchChild.ts'

/** A closed-loop run of GETs of one path, as the readers' process is asked for it. */
export interface ReadRun {
  readonly path: string
  readonly token: string
  /** Clients, each reading again once answered. */
  readonly readers: number
  /** Reads before the measured ones, one at a time, not measured. */
  readonly warmup: number
  /** Measured reads, and the time after which no more are started. */
  readonly reads: number
  readonly budgetMs: number
}

/** What a run measured: each read's latency in ms, and how many answers were not a 200. */
export interface ReadRunResult {
  readonly samples: readonly number[]
  readonly failures: number
}

export type ReaderMessage = ReadRun & { readonly id: number }
export type ReaderReply = { readonly id: number } & (ReadRunResult | { readonly error: string })

/**
 * The analysts: a child process that reads over its own kept-alive loopback connections and
 * times each read. Readers are other machines in real use: here they share the cores with the
 * server, but neither its event loop nor its heap, so the answers' bytes they receive (half a
 * megabyte for a month of hourly rollup) are not collected by the server's garbage collector.
 */
export interface ReaderPool {
  run(run: ReadRun): Promise<ReadRunResult>
  /** CPU seconds the readers' process has used so far (NaN where unknown). */
  cpuSeconds(): number
  close(): Promise<void>
}

export function createReaderPool(baseUrl: string, maxSockets: number): ReaderPool {
  const readers = forkBenchChild(
    new URL('./readerWorker.ts', import.meta.url),
    [baseUrl, String(maxSockets)],
    (error) => fail(new Error(`the readers' process failed: ${error.message}`)),
  )
  let failed: Error | null = null
  let nextId = 0
  const pending = new Map<number, { resolve(result: ReadRunResult): void; reject(error: Error): void }>()
  function fail(error: Error) {
    failed = error
    for (const waiter of pending.values()) waiter.reject(error)
    pending.clear()
  }
  readers.process.on('message', (reply: ReaderReply) => {
    const waiter = pending.get(reply.id)
    if (!waiter) return
    pending.delete(reply.id)
    if ('error' in reply) waiter.reject(new Error(`the readers failed: ${reply.error}`))
    else waiter.resolve(reply)
  })
  return {
    run(run) {
      if (failed) return Promise.reject(failed)
      const id = nextId++
      return new Promise<ReadRunResult>((resolve, reject) => {
        pending.set(id, { resolve, reject })
        const message: ReaderMessage = { id, ...run }
        readers.process.send(message)
      })
    },
    cpuSeconds: readers.cpuSeconds,
    close: readers.close,
  }
}
