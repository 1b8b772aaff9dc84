import { randomUUID } from 'node:crypto'
import type { BenchFigure, BenchPhase } from './benchFigure.ts'
import { createLoopbackClient, type LoopbackClient } from './loopbackClient.ts'

/** Sizes of the session-churn phase: ten minutes by default, as the figure is defined. */
const PLAN = {
  /** How long sessions are started; HOURGLASS_BENCH_CHURN_SECONDS shortens it for a quick look. */
  seconds: Number(process.env.HOURGLASS_BENCH_CHURN_SECONDS ?? 600),
  /** Accounts, each with one app: each account may create 600 sessions a minute by default. */
  accounts: 16,
  concurrency: 8,
  /** RSS samples over the run. */
  samples: 10,
} as const

const PHASE = 'sessions: RSS under churn'
const MB = 1024 * 1024

/**
 * The JS heap that is live: after a full collection when the process allows one
 * (`NODE_OPTIONS=--expose-gc`), otherwise null (garbage would blur it).
 */
const liveHeap = (): number | null => {
  const collect = (globalThis as { gc?: () => void }).gc
  if (!collect) return null
  collect()
  return process.memoryUsage().heapUsed
}

const figure = (name: string, value: number, unit: string): BenchFigure => ({
  phase: PHASE,
  name,
  value,
  unit,
})

const expectCreated = (answer: { status: number; body: string }, what: string) => {
  if (answer.status !== 201) throw new Error(`${what}: HTTP ${answer.status}: ${answer.body.slice(0, 500)}`)
  return JSON.parse(answer.body) as Record<string, string>
}

/** Accounts with one app each: the API tokens that start sessions. */
async function appTokens(client: LoopbackClient): Promise<string[]> {
  const tokens: string[] = []
  for (let i = 0; i < PLAN.accounts; i++) {
    const { token } = expectCreated(
      await client.send('POST', '/v1/auth/signup', {
        body: JSON.stringify({
          email: `bench-churn-${randomUUID()}@example.com`,
          password: 'correct horse battery staple',
          name: 'Churn',
        }),
      }),
      'sign-up',
    )
    const { apiToken } = expectCreated(
      await client.send('POST', '/v1/sources', {
        token,
        body: JSON.stringify({ kind: 'app', name: 'churn' }),
      }),
      'create source',
    )
    tokens.push(apiToken!)
  }
  return tokens
}

/** Starts sessions round the apps until `until`, counting the answers by status. */
async function churn(client: LoopbackClient, tokens: readonly string[], until: number) {
  const answers = new Map<number, number>()
  let next = 0
  const worker = async () => {
    while (performance.now() < until) {
      const token = tokens[next++ % tokens.length]!
      const answer = await client.send('POST', '/v1/sessions', { token, body: '{}' })
      answers.set(answer.status, (answers.get(answer.status) ?? 0) + 1)
    }
  }
  await Promise.all(Array.from({ length: PLAN.concurrency }, worker))
  return answers
}

/**
 * Sessions started without pause for ten minutes, by sixteen apps at the rate limit's pace: the
 * process's RSS before (the baseline, in the same run) and across the run, and what each session
 * started cost on average.
 */
export const sessionChurnBench: BenchPhase = async (runtime) => {
  const client = createLoopbackClient(runtime.url, PLAN.concurrency * 2)
  try {
    const tokens = await appTokens(client)
    const heapBefore = liveHeap()
    const baseline = process.memoryUsage.rss()
    process.stderr.write(`[bench] sessions: ${PLAN.seconds} s of churn\n`)
    const startedAt = performance.now()
    const until = startedAt + PLAN.seconds * 1000
    const samples: number[] = []
    const sampler = setInterval(
      () => samples.push(process.memoryUsage.rss()),
      (PLAN.seconds * 1000) / PLAN.samples,
    )
    const answers = await churn(client, tokens, until).finally(() => clearInterval(sampler))
    const end = process.memoryUsage.rss()
    const started = answers.get(201) ?? 0
    const heapAfter = liveHeap()
    const heapFigures =
      heapBefore === null || heapAfter === null
        ? []
        : [
            figure('live JS heap before the churn', heapBefore / MB, 'MB'),
            figure('live JS heap after the churn', heapAfter / MB, 'MB'),
            figure(
              'live JS heap per session started',
              started > 0 ? (heapAfter - heapBefore) / started : 0,
              'bytes',
            ),
          ]
    return [
      figure('RSS before the churn (baseline)', baseline / MB, 'MB'),
      ...samples.map((rss, i) =>
        figure(`RSS after ${Math.round(((i + 1) * PLAN.seconds) / PLAN.samples)} s`, rss / MB, 'MB'),
      ),
      figure('RSS at the end', end / MB, 'MB'),
      figure('RSS growth per session started', started > 0 ? (end - baseline) / started : 0, 'bytes'),
      ...heapFigures,
      figure('sessions started (201)', started, 'sessions'),
      figure('refused by the rate limit (429)', answers.get(429) ?? 0, 'requests'),
      figure(
        'other answers',
        [...answers].filter(([status]) => status !== 201 && status !== 429).reduce((n, [, c]) => n + c, 0),
        'requests',
      ),
    ]
  } finally {
    client.close()
  }
}
