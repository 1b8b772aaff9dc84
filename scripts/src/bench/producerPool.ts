import { Worker } from 'node:worker_threads'
import type { BenchSource } from './hourglassApi.ts'
import type { EventFactory, EventTimes } from './producerEvents.ts'

/** A batch for the load generator to build and send: events `[from, from + count)` of a factory. */
export interface BatchOrder {
  readonly events: EventFactory
  readonly from: number
  readonly count: number
  readonly times: EventTimes
}

export interface BatchAnswer {
  readonly status: number
  /** `performance.now()` of this thread when the whole answer had arrived. */
  readonly at: number
  /** Highest log position in a 2xx answer's results; -1 if none. */
  readonly lastPosition: number
  /** The start of the body of an answer that is not a 2xx, for the report. */
  readonly failure: string
}

/** What crosses to the worker (see producerWorker.ts). */
export interface BatchMessage {
  readonly id: number
  readonly token: string
  readonly phase: string
  readonly seed: number
  readonly from: number
  readonly count: number
  readonly times: EventTimes
}

export type BatchReply =
  | {
      readonly id: number
      readonly status: number
      readonly at: number
      readonly lastPosition: number
      readonly failure: string
    }
  | { readonly id: number; readonly error: string }

/**
 * The producers: a worker thread that builds each `POST /v1/events` body and sends it over its
 * own kept-alive loopback connections. Producers are other machines in real use; here they share
 * the cores with the server, but not its event loop.
 */
export interface ProducerPool {
  post(source: BenchSource, order: BatchOrder): Promise<BatchAnswer>
  close(): Promise<void>
}

export function createProducerPool(baseUrl: string, maxSockets: number): ProducerPool {
  // The worker's module is TypeScript, like everything run through tsx: it registers tsx's loader first.
  const tsx = import.meta.resolve('tsx/esm/api')
  const entry = new URL('./producerWorker.ts', import.meta.url).href
  const worker = new Worker(
    `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}) })`,
    { eval: true, workerData: { baseUrl, maxSockets } },
  )
  worker.unref()
  let failed: Error | null = null
  let nextId = 0
  const pending = new Map<number, { resolve(answer: BatchAnswer): void; reject(error: Error): void }>()
  worker.on('message', (reply: BatchReply) => {
    const waiter = pending.get(reply.id)
    if (!waiter) return
    pending.delete(reply.id)
    if ('error' in reply) waiter.reject(new Error(reply.error))
    // The worker's clock has its own origin: its times arrive as epoch milliseconds.
    else waiter.resolve({ ...reply, at: reply.at - performance.timeOrigin })
  })
  worker.on('error', (error) => {
    failed = error
    for (const waiter of pending.values()) waiter.reject(error)
    pending.clear()
  })
  return {
    post(source, order) {
      if (failed) return Promise.reject(new Error(`the load generator thread failed: ${failed.message}`))
      const id = nextId++
      const message: BatchMessage = {
        id,
        token: source.apiToken,
        phase: order.events.phase,
        seed: order.events.seed,
        from: order.from,
        count: order.count,
        times: order.times,
      }
      return new Promise<BatchAnswer>((resolve, reject) => {
        pending.set(id, { resolve, reject })
        worker.postMessage(message)
      })
    },
    async close() {
      await worker.terminate()
    },
  }
}
