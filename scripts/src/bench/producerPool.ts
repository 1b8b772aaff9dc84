import { forkBenchChild } from './benchChild.ts'
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

/** What crosses to the producers' process (see producerWorker.ts): a batch to send. */
export interface BatchMessage {
  readonly kind: 'send'
  readonly id: number
  readonly token: string
  readonly phase: string
  readonly seed: number
  readonly from: number
  readonly count: number
  readonly times: EventTimes
}

/** Bodies to build ahead of a run: `events` events in batches of `batchSize`, from event 0. */
export interface PrepareMessage {
  readonly kind: 'prepare'
  readonly id: number
  readonly phase: string
  readonly seed: number
  readonly events: number
  readonly batchSize: number
  readonly times: EventTimes
}

/**
 * A closed-loop run, driven by the producers' process itself: `concurrency` clients each send a
 * prepared batch and send the next when answered, until every batch is sent or the budget is
 * spent. Nothing crosses between the processes per request, so the server's thread does not
 * pay for the bench's bookkeeping.
 */
export interface RunMessage {
  readonly kind: 'run'
  readonly id: number
  readonly token: string
  readonly phase: string
  readonly seed: number
  readonly events: number
  readonly batchSize: number
  readonly concurrency: number
  readonly times: EventTimes
  readonly sendBudgetMs: number
}

/** What a closed-loop run reports, now and then while it runs and once at its end. */
export interface RunReport {
  readonly requests: number
  /** Events in 2xx answers. */
  readonly acknowledged: number
  readonly failures: number
  readonly firstFailure: string | null
  /** When the last 2xx arrived, in epoch milliseconds (in this process: `performance.now()`). */
  readonly lastAckAt: number
}

/** Where a prepared body is kept until its batch is sent. */
export const preparedKey = (m: { phase: string; seed: number; from: number; count: number }) =>
  `${m.phase}:${m.seed}:${m.from}:${m.count}`

export type BatchReply =
  | {
      readonly id: number
      readonly status: number
      readonly at: number
      readonly lastPosition: number
      readonly failure: string
    }
  | { readonly id: number; readonly error: string }
  | { readonly id: number; readonly run: RunReport; readonly done: boolean }

/**
 * The producers: a child process that builds each `POST /v1/events` body and sends it over its
 * own kept-alive loopback connections. Producers are other machines in real use; here they share
 * the cores with the server, but neither its event loop nor its memory.
 */
export interface ProducerPool {
  /**
   * Builds the bodies of a closed-loop run before it starts, so the run's clock times the
   * server, not the building (event times must not depend on the moment of sending).
   */
  prepare(events: EventFactory, plan: { events: number; batchSize: number; times: EventTimes }): Promise<void>
  post(source: BenchSource, order: BatchOrder): Promise<BatchAnswer>
  /**
   * A closed-loop run of prepared batches (see `prepare`), driven by the producers' process;
   * `onProgress` hears how far it got four times a second.
   */
  run(
    source: BenchSource,
    events: EventFactory,
    plan: {
      events: number
      batchSize: number
      concurrency: number
      times: EventTimes
      sendBudgetMs: number
    },
    onProgress?: (report: RunReport) => void,
  ): Promise<RunReport>
  /** CPU seconds the producers' process has used so far (NaN where unknown). */
  cpuSeconds(): number
  close(): Promise<void>
}

export function createProducerPool(baseUrl: string, maxSockets: number): ProducerPool {
  const producers = forkBenchChild(
    new URL('./producerWorker.ts', import.meta.url),
    [baseUrl, String(maxSockets)],
    (error) => fail(new Error(`the producers' process failed: ${error.message}`)),
  )
  const child = producers.process
  let failed: Error | null = null
  let nextId = 0
  const pending = new Map<number, { resolve(answer: BatchAnswer): void; reject(error: Error): void }>()
  const runs = new Map<
    number,
    { resolve(report: RunReport): void; reject(error: Error): void; progress(report: RunReport): void }
  >()
  child.on('message', (reply: BatchReply) => {
    if ('run' in reply) {
      const run = runs.get(reply.id)
      if (!run) return
      // The producers' clock has its own origin: their times arrive as epoch milliseconds.
      const report = { ...reply.run, lastAckAt: reply.run.lastAckAt - performance.timeOrigin }
      if (!reply.done) return run.progress(report)
      runs.delete(reply.id)
      return run.resolve(report)
    }
    const run = runs.get(reply.id)
    if (run && 'error' in reply) {
      runs.delete(reply.id)
      return run.reject(new Error(reply.error))
    }
    const waiter = pending.get(reply.id)
    if (!waiter) return
    pending.delete(reply.id)
    if ('error' in reply) waiter.reject(new Error(reply.error))
    // The producers' clock has its own origin: their times arrive as epoch milliseconds.
    else waiter.resolve({ ...reply, at: reply.at - performance.timeOrigin })
  })
  function fail(error: Error) {
    failed = error
    for (const waiter of [...pending.values(), ...runs.values()]) waiter.reject(error)
    pending.clear()
    runs.clear()
  }
  const ask = (message: BatchMessage | PrepareMessage) => {
    if (failed) return Promise.reject(new Error(`the load generator failed: ${failed.message}`))
    return new Promise<BatchAnswer>((resolve, reject) => {
      pending.set(message.id, { resolve, reject })
      child.send(message)
    })
  }
  return {
    async prepare(events, plan) {
      await ask({ kind: 'prepare', id: nextId++, phase: events.phase, seed: events.seed, ...plan })
    },
    post(source, order) {
      return ask({
        kind: 'send',
        id: nextId++,
        token: source.apiToken,
        phase: order.events.phase,
        seed: order.events.seed,
        from: order.from,
        count: order.count,
        times: order.times,
      })
    },
    run(source, events, plan, onProgress) {
      if (failed) return Promise.reject(new Error(`the load generator failed: ${failed.message}`))
      const id = nextId++
      return new Promise<RunReport>((resolve, reject) => {
        runs.set(id, { resolve, reject, progress: (report) => onProgress?.(report) })
        const message: RunMessage = {
          kind: 'run',
          id,
          token: source.apiToken,
          phase: events.phase,
          seed: events.seed,
          ...plan,
        }
        child.send(message)
      })
    },
    cpuSeconds: producers.cpuSeconds,
    close: producers.close,
  }
}
