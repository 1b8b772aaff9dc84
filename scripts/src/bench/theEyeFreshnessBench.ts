import { randomUUID } from 'node:crypto'
import { type BenchPhase, phaseFigures } from './benchFigure.ts'
import { createLoopbackClient, sleep } from './loopbackClient.ts'
import { percentile } from './measures.ts'

const PHASE = 'The Eye: accepted → listed'
const POLL_MS = 10
const GIVE_UP_MS = 10_000

const parse = (answer: { status: number; body: string }, what: string): unknown => {
  if (answer.status < 200 || answer.status >= 300)
    throw new Error(`${what}: HTTP ${answer.status}: ${answer.body.slice(0, 500)}`)
  return JSON.parse(answer.body)
}

/**
 * The Eye's promise that an accepted event is listed by `GET /events/` within one second: one
 * client adds an event, then reads the newest event until it is that one. Reads wait (up to a
 * second) for the events projection, so the first read should already list it.
 */
export const createTheEyeFreshnessBench =
  (events: number): BenchPhase =>
  async (runtime) => {
    const client = createLoopbackClient(runtime.url, 1)
    try {
      const { email, password } = {
        email: `bench-eye-${randomUUID()}@example.com`,
        password: 'correct horse battery',
      }
      parse(
        await client.send('POST', '/v1/auth/signup', {
          body: JSON.stringify({ email, password, name: 'Eye' }),
        }),
        'sign-up',
      )
      const { token } = parse(
        await client.send('POST', '/compat/the-eye/api-token-auth/', {
          body: JSON.stringify({ username: email, password }),
        }),
        'token',
      ) as { token: string }
      const { id: sessionId } = parse(
        await client.send('POST', '/compat/the-eye/sessions/', { token }),
        'session',
      ) as {
        id: string
      }
      const latencies: number[] = []
      let listedOnFirstRead = 0
      let neverListed = 0
      for (let i = 0; i < events; i++) {
        const body = JSON.stringify({
          session_id: sessionId,
          category: 'page interaction',
          name: 'cta click',
          data: { host: 'www.consumeraffairs.com', path: `/${i}`, element: 'chat bubble' },
          timestamp: new Date().toISOString(),
        })
        const added = await client.send('POST', '/compat/the-eye/events/', { token, body })
        const { id } = parse(added, 'add event') as { id: number }
        for (let read = 0; ; read++) {
          const answer = await client.send('GET', '/compat/the-eye/events/?page_size=1', { token })
          const { results } = parse(answer, 'list events') as { results: { id: number }[] }
          if (results[0]?.id === id) {
            latencies.push(answer.at - added.at)
            if (read === 0) listedOnFirstRead++
            break
          }
          if (answer.at - added.at > GIVE_UP_MS) {
            neverListed++
            break
          }
          await sleep(POLL_MS)
        }
      }
      const p99 = percentile(latencies, 99)
      const figure = phaseFigures(PHASE)
      return [
        figure('events added, one at a time', events, 'events'),
        figure('listed by the first read after the 201', (100 * listedOnFirstRead) / events, '%'),
        figure('from 201 to listed: p50', percentile(latencies, 50), 'ms'),
        figure('from 201 to listed: p99', p99, 'ms', {
          goal: '≤ 1000 ms',
          meets: p99 <= 1000 && neverListed === 0,
        }),
      ]
    } finally {
      client.close()
    }
  }

export const theEyeFreshnessBench: BenchPhase = createTheEyeFreshnessBench(200)
