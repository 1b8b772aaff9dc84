import { randomUUID } from 'node:crypto'
import { request } from 'node:http'
import type { BenchFigure, BenchPhase } from './benchFigure.ts'
import { createLoopbackClient, inParallel, type LoopbackClient } from './loopbackClient.ts'
import { percentile } from './measures.ts'

/** Sizes of the admission phase: well under a minute on two cores. */
const PLAN = {
  /** Single-event requests of each run, quiet and under the flood. */
  events: 3000,
  concurrency: 4,
  floodClients: 16,
  /** Client addresses each flooding client cycles through (127.0.0.0/8 is all loopback). */
  addressesPerClient: 250,
} as const

const PHASE = 'admission: single events'

const expectOk = (answer: { status: number; body: string }, what: string): unknown => {
  if (answer.status < 200 || answer.status >= 300)
    throw new Error(`${what}: HTTP ${answer.status}: ${answer.body.slice(0, 500)}`)
  return JSON.parse(answer.body)
}

/** One sign-in on a connection of its own, from `localAddress`: the status and the error code. */
const signInFrom = (url: URL, localAddress: string, body: string) =>
  new Promise<string>((resolve, reject) => {
    const outgoing = request(
      {
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: '/v1/auth/signin',
        localAddress,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (incoming) => {
        const chunks: Buffer[] = []
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk))
        incoming.on('error', reject)
        incoming.on('end', () => {
          const status = incoming.statusCode ?? 0
          let code = ''
          try {
            code =
              (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: { code?: string } }).error
                ?.code ?? ''
          } catch {
            // Not JSON: the status alone says what happened.
          }
          resolve(code ? `${status} ${code}` : String(status))
        })
      },
    )
    outgoing.on('error', reject)
    outgoing.end(body)
  })

/**
 * Sixteen clients sign in with wrong passwords, as fast as they are answered, until `stop`: half
 * for one real account (which backs off and is soon answered 429), half for addresses nobody has
 * (each checked against the decoy hash: a full scrypt). Each client cycles through addresses of
 * its own, so the per-address limit lets most of them through and the password pool is kept busy.
 */
async function signInFlood(url: URL, victim: string, stop: Promise<void>) {
  let stopped = false
  void stop.then(() => {
    stopped = true
  })
  const answers = new Map<string, number>()
  const client = async (index: number) => {
    for (let attempt = 0; !stopped; attempt++) {
      const email = attempt % 2 === 0 ? victim : `nobody-${randomUUID()}@example.com`
      const from = `127.${20 + index}.0.${1 + (attempt % PLAN.addressesPerClient)}`
      const answer = await signInFrom(url, from, JSON.stringify({ email, password: `guess ${attempt}` }))
      answers.set(answer, (answers.get(answer) ?? 0) + 1)
    }
  }
  await Promise.all(Array.from({ length: PLAN.floodClients }, (_, index) => client(index)))
  return answers
}

/** Sends `count` single-event requests, `concurrency` at a time, and returns their latencies in ms. */
async function singleEvents(client: LoopbackClient, apiToken: string, count: number, tag: string) {
  const latencies: number[] = []
  await inParallel(count, PLAN.concurrency, async (i) => {
    const body = JSON.stringify({ events: [{ id: `${tag}-${i}`, name: 'view', timestamp: Date.now() }] })
    const askedAt = performance.now()
    const answer = await client.send('POST', '/v1/events', { token: apiToken, body })
    expectOk(answer, 'single event')
    latencies.push(answer.at - askedAt)
  })
  return latencies
}

/**
 * Ingest beside a sign-in flood: single-event latency quiet, then while 16 clients flood sign-in,
 * side by side, with what the flood was answered. Password hashing has threads of its own, so
 * the flood should cost ingest no more than the core those threads take.
 */
export const admissionBench: BenchPhase = async (runtime) => {
  const url = new URL(runtime.url)
  const client = createLoopbackClient(runtime.url, PLAN.concurrency * 2)
  try {
    const signUp = async (email: string) =>
      expectOk(
        await client.send('POST', '/v1/auth/signup', {
          body: JSON.stringify({ email, password: 'correct horse battery staple', name: 'Admission' }),
        }),
        'sign-up',
      ) as { token: string }
    const { token } = await signUp(`bench-admission-${randomUUID()}@example.com`)
    const victim = `bench-victim-${randomUUID()}@example.com`
    await signUp(victim)
    const { apiToken } = expectOk(
      await client.send('POST', '/v1/sources', {
        token,
        body: JSON.stringify({ kind: 'app', name: 'admission' }),
      }),
      'create source',
    ) as { apiToken: string }

    process.stderr.write('[bench] admission: warm-up and quiet run\n')
    await singleEvents(client, apiToken, 500, 'warm-up')
    const quiet = await singleEvents(client, apiToken, PLAN.events, 'quiet')

    process.stderr.write(`[bench] admission: run under a ${PLAN.floodClients}-way sign-in flood\n`)
    let stop = () => {}
    const stopped = new Promise<void>((resolve) => {
      stop = resolve
    })
    const flood = signInFlood(url, victim, stopped)
    const flooded = await singleEvents(client, apiToken, PLAN.events, 'flooded').finally(stop)
    const answers = await flood
    const count = (predicate: (answer: string) => boolean) =>
      [...answers].filter(([answer]) => predicate(answer)).reduce((total, [, n]) => total + n, 0)

    const figure = (name: string, value: number, unit = 'ms'): BenchFigure => ({
      phase: PHASE,
      name,
      value,
      unit,
    })
    return [
      figure('p50, quiet', percentile(quiet, 50)),
      figure(`p50, ${PLAN.floodClients}-way sign-in flood`, percentile(flooded, 50)),
      figure('p99, quiet', percentile(quiet, 99)),
      figure(`p99, ${PLAN.floodClients}-way sign-in flood`, percentile(flooded, 99)),
      { phase: 'admission: the flood', name: 'sign-ins sent', value: count(() => true), unit: 'requests' },
      {
        phase: 'admission: the flood',
        name: 'checked and refused (401)',
        value: count((a) => a.startsWith('401')),
        unit: 'requests',
      },
      {
        phase: 'admission: the flood',
        name: '429 RATE_LIMITED',
        value: count((a) => a === '429 RATE_LIMITED'),
        unit: 'requests',
      },
      {
        phase: 'admission: the flood',
        name: '429 PASSWORD_CHECKS_BUSY',
        value: count((a) => a === '429 PASSWORD_CHECKS_BUSY'),
        unit: 'requests',
      },
      {
        phase: 'admission: the flood',
        name: 'other answers',
        value: count((a) => !a.startsWith('401') && !a.startsWith('429')),
        unit: 'requests',
      },
    ]
  } finally {
    client.close()
  }
}
