import { randomUUID } from 'node:crypto'
import type { BenchFigure, BenchPhase } from './benchFigure.ts'
import { createLoopbackClient, type LoopbackClient } from './loopbackClient.ts'
import { type RssMakeUp, rssMakeUp } from './measures.ts'

/** Sizes of the session-churn phase: ten minutes by default, as the figure is defined. */
const PLAN = {
  /** How long sessions are started; HOURGLASS_BENCH_CHURN_SECONDS shortens it for a quick look. */
  seconds: Number(process.env.HOURGLASS_BENCH_CHURN_SECONDS ?? 600),
  /** Accounts, each with one app: each account may create 600 sessions a minute by default. */
  accounts: 16,
  concurrency: 8,
  /** RSS samples over the run. */
  samples: 10,
  /**
   * Sessions live a minute here (a day by default), so that the live set is bounded well within
   * the run and what the figure shows is what expired sessions leave behind.
   */
  sessionLifetimeSeconds: process.env.HOURGLASS_SESSION_LIFETIME_SECONDS ?? '60',
} as const

/** The settings of the Hourglass this phase runs against. */
export const sessionChurnSettings = { HOURGLASS_SESSION_LIFETIME_SECONDS: PLAN.sessionLifetimeSeconds }

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

/** Starts sessions round the apps until `until`, counting the answers by status in `answers`. */
async function churn(
  client: LoopbackClient,
  tokens: readonly string[],
  until: number,
  answers: Map<number, number>,
) {
  let next = 0
  const worker = async () => {
    while (performance.now() < until) {
      const token = tokens[next++ % tokens.length]!
      const answer = await client.send('POST', '/v1/sessions', { token, body: '{}' })
      answers.set(answer.status, (answers.get(answer.status) ?? 0) + 1)
    }
  }
  await Promise.all(Array.from({ length: PLAN.concurrency }, worker))
}

/** The live heap and the resident set at one moment of the run, and how many sessions had started by then. */
interface Mark {
  readonly heap: number | null
  readonly resident: RssMakeUp
  readonly started: number
}

/** What grew from one mark to another, per session started in between (null without `--expose-gc`). */
const growthFigures = (label: string, from: Mark, to: Mark): BenchFigure[] => {
  const started = to.started - from.started
  const perSession = (bytes: number) => (started > 0 ? bytes / started : 0)
  return [
    figure(
      `RSS growth per session started, ${label}`,
      perSession(to.resident.rss - from.resident.rss),
      'bytes',
    ),
    figure(
      `  of it anonymous (heaps, native), ${label}`,
      perSession(to.resident.anonymous - from.resident.anonymous),
      'bytes',
    ),
    figure(
      `  of it file pages (the mapped log), ${label}`,
      perSession(to.resident.file - from.resident.file),
      'bytes',
    ),
    ...(from.heap === null || to.heap === null
      ? []
      : [
          figure(
            `live JS heap growth per session started, ${label}`,
            perSession(to.heap - from.heap),
            'bytes',
          ),
        ]),
  ]
}

/**
 * Sessions started without pause for ten minutes, by sixteen apps at the rate limit's pace, each
 * living a minute: the process's RSS before (the baseline, in the same run) and across the run,
 * and what each session started cost, over the whole run and over its second half (once the
 * live set is bounded).
 */
export const sessionChurnBench: BenchPhase = async (runtime) => {
  const client = createLoopbackClient(runtime.url, PLAN.concurrency * 2)
  const answers = new Map<number, number>()
  const mark = (): Mark => ({
    heap: liveHeap(),
    resident: rssMakeUp(),
    started: answers.get(201) ?? 0,
  })
  try {
    const tokens = await appTokens(client)
    const before = mark()
    process.stderr.write(
      `[bench] sessions: ${PLAN.seconds} s of churn, sessions living ${PLAN.sessionLifetimeSeconds} s\n`,
    )
    const until = performance.now() + PLAN.seconds * 1000
    const samples: RssMakeUp[] = []
    const sampler = setInterval(() => samples.push(rssMakeUp()), (PLAN.seconds * 1000) / PLAN.samples)
    let halfway: Mark | null = null
    const marker = setTimeout(
      () => {
        halfway = mark()
      },
      (PLAN.seconds * 1000) / 2,
    )
    await churn(client, tokens, until, answers).finally(() => {
      clearInterval(sampler)
      clearTimeout(marker)
    })
    const end = mark()
    return [
      figure('RSS before the churn (baseline)', before.resident.rss / MB, 'MB'),
      figure('  of it anonymous', before.resident.anonymous / MB, 'MB'),
      ...samples.flatMap((resident, i) => {
        const at = Math.round(((i + 1) * PLAN.seconds) / PLAN.samples)
        return [
          figure(`RSS after ${at} s`, resident.rss / MB, 'MB'),
          figure('  of it anonymous', resident.anonymous / MB, 'MB'),
        ]
      }),
      figure('RSS at the end', end.resident.rss / MB, 'MB'),
      figure('  of it anonymous', end.resident.anonymous / MB, 'MB'),
      ...(before.heap === null || end.heap === null
        ? []
        : [
            figure('live JS heap before the churn', before.heap / MB, 'MB'),
            figure('live JS heap after the churn', end.heap / MB, 'MB'),
          ]),
      ...growthFigures('whole run', before, end),
      ...(halfway ? growthFigures('second half', halfway, end) : []),
      figure('sessions started (201)', end.started, 'sessions'),
      figure('session lifetime', Number(PLAN.sessionLifetimeSeconds), 's'),
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
