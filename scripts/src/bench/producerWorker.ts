import { createLoopbackClient, inParallel } from './loopbackClient.ts'
import { createEventFactory, type EventFactory, type EventTimes, eventTimes } from './producerEvents.ts'
import {
  type BatchMessage,
  type BatchReply,
  type PrepareMessage,
  preparedKey,
  type RunMessage,
  type RunReport,
} from './producerPool.ts'

/** The load generator's process: builds each batch's body and sends it (see producerPool.ts). */
const [baseUrl, maxSocketsArg] = process.argv.slice(2)
const client = createLoopbackClient(baseUrl!, Number(maxSocketsArg))
const factories = new Map<string, EventFactory>()
/** Bodies built ahead of a run, each sent (and dropped) once. */
const prepared = new Map<string, string>()

// The bench that started this process has gone: so have its orders.
process.on('disconnect', () => process.exit(0))
const factoryOf = (message: { phase: string; seed: number }) => {
  const key = `${message.phase}:${message.seed}`
  let events = factories.get(key)
  if (!events) {
    events = createEventFactory(message.phase, message.seed)
    factories.set(key, events)
  }
  return events
}

/** A batch's body: the one built ahead of the run (taken, so it is sent once), or built now. */
const takeBody = (
  message: { phase: string; seed: number; times: EventTimes },
  from: number,
  count: number,
) => {
  const key = preparedKey({ ...message, from, count })
  const body = prepared.get(key)
  if (body === undefined) return factoryOf(message).batchBody(from, count, eventTimes(message.times))
  prepared.delete(key)
  return body
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error))

const prepare = (message: PrepareMessage): BatchReply => {
  const events = factoryOf(message)
  const timeOf = eventTimes(message.times)
  for (let from = 0; from < message.events; from += message.batchSize) {
    const count = Math.min(message.batchSize, message.events - from)
    prepared.set(preparedKey({ ...message, from, count }), events.batchBody(from, count, timeOf))
  }
  return {
    id: message.id,
    status: 204,
    at: performance.timeOrigin + performance.now(),
    lastPosition: -1,
    failure: '',
  }
}

/** A closed-loop run (see RunMessage): answers are counted, not parsed. */
const run = async (message: RunMessage) => {
  const report = {
    requests: 0,
    acknowledged: 0,
    failures: 0,
    firstFailure: null as string | null,
    lastAckAt: 0,
  }
  const snapshot = (): RunReport => ({ ...report, lastAckAt: performance.timeOrigin + report.lastAckAt })
  const ticker = setInterval(() => process.send!({ id: message.id, run: snapshot(), done: false }), 250)
  const sendUntil = performance.now() + message.sendBudgetMs
  try {
    await inParallel(Math.ceil(message.events / message.batchSize), message.concurrency, async (request) => {
      if (performance.now() > sendUntil) return
      report.requests += 1
      const from = request * message.batchSize
      const count = Math.min(message.batchSize, message.events - from)
      try {
        const body = takeBody(message, from, count)
        const answer = await client.send('POST', '/v1/events', { token: message.token, body })
        if (answer.status === 200) {
          report.acknowledged += count
          report.lastAckAt = Math.max(report.lastAckAt, answer.at)
          return
        }
        report.firstFailure ??= `HTTP ${answer.status}: ${answer.body.slice(0, 300)}`
      } catch (error) {
        // A refused or reset connection is a failed request, not the end of the run.
        report.firstFailure ??= errorText(error)
      }
      report.failures += 1
    })
  } finally {
    clearInterval(ticker)
  }
  process.send!({ id: message.id, run: snapshot(), done: true })
}

process.on('message', async (message: BatchMessage | PrepareMessage | RunMessage) => {
  if (message.kind === 'prepare') {
    process.send!(prepare(message))
    return
  }
  if (message.kind === 'run') {
    await run(message).catch((error: unknown) => process.send!({ id: message.id, error: errorText(error) }))
    return
  }
  let reply: BatchReply
  try {
    const body = takeBody(message, message.from, message.count)
    const answer = await client.send('POST', '/v1/events', { token: message.token, body })
    let lastPosition = -1
    if (answer.status >= 200 && answer.status < 300) {
      const { results } = JSON.parse(answer.body) as { results: { position?: number }[] }
      for (const result of results) lastPosition = Math.max(lastPosition, result.position ?? -1)
    }
    reply = {
      id: message.id,
      status: answer.status,
      at: performance.timeOrigin + answer.at,
      lastPosition,
      failure: answer.status === 200 ? '' : answer.body.slice(0, 300),
    }
  } catch (error) {
    reply = { id: message.id, error: errorText(error) }
  }
  process.send!(reply)
})
