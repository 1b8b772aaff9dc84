import { createLoopbackClient } from './loopbackClient.ts'
import { createEventFactory, type EventFactory, eventTimes } from './producerEvents.ts'
import { type BatchMessage, type BatchReply, type PrepareMessage, preparedKey } from './producerPool.ts'

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

process.on('message', async (message: BatchMessage | PrepareMessage) => {
  if (message.kind === 'prepare') {
    process.send!(prepare(message))
    return
  }
  const events = factoryOf(message)
  let reply: BatchReply
  try {
    const key = preparedKey(message)
    const body = prepared.get(key) ?? events.batchBody(message.from, message.count, eventTimes(message.times))
    prepared.delete(key)
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
    reply = { id: message.id, error: error instanceof Error ? error.message : String(error) }
  }
  process.send!(reply)
})
