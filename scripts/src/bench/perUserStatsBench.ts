import { randomUUID } from 'node:crypto'
import { tables } from '@hourglass/projections'
import { sourceIdOfAppCode, TELEMETRY_EVENT, type TelemetryEvent, telemetryStream } from '@hourglass/schemas'
import { z } from 'zod'
import type { EmbeddedRuntime } from '../embeddedRuntime.ts'
import { caughtUp } from '../embeddedRuntime.ts'
import { type BenchPhase, phaseFigures } from './benchFigure.ts'
import { createLoopbackClient, type LoopbackClient } from './loopbackClient.ts'
import { percentile } from './measures.ts'

export interface PerUserStatsPlan {
  /** Events of the one app source (all of the defined event). */
  readonly events: number
  readonly users: number
  readonly products: number
  /** Records per `appendEvents` call while loading. */
  readonly appendBatch: number
  /** Event times spread over this many days before now. */
  readonly days: number
  /** Timed statistics reads through HTTP, and timed reads of the same answer from the raw events. */
  readonly httpQueries: number
  readonly rawQueries: number
  readonly warmupQueries: number
}

export const PER_USER_STATS_PLAN: PerUserStatsPlan = {
  events: 1_000_000,
  users: 2_000,
  products: 20,
  appendBatch: 20_000,
  days: 30,
  httpQueries: 50,
  rawQueries: 10,
  warmupQueries: 3,
}

const PHASE = 'per-user statistics'
const EVENT_NAME = 'number of product views'

/** A 32-bit integer hash: events are a pure function of their index, so runs repeat. */
const mix = (value: number): number => {
  let h = value | 0
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** user → key → sum */
type Statistics = Map<string, Map<string, number>>

const expectOk = (answer: { status: number; body: string }, what: string): unknown => {
  if (answer.status < 200 || answer.status >= 300)
    throw new Error(`${what}: HTTP ${answer.status}: ${answer.body.slice(0, 500)}`)
  return JSON.parse(answer.body)
}

/** Statistics as the Metrica endpoint answers them: [{user_code, <key>: sum, ...}]. */
const fromHttp = (body: string): Statistics => {
  const rows = JSON.parse(body) as Record<string, string | number>[]
  return new Map(
    rows.map(({ user_code, ...values }) => [
      String(user_code),
      new Map(Object.entries(values).map(([key, sum]) => [key, Number(sum)])),
    ]),
  )
}

const RawRow = z.object({ subject: z.string(), stat_key: z.string(), amount: z.coerce.number() })

/** The same answer computed from the raw events table: no projection, every event read. */
async function statisticsFromRawEvents(
  runtime: EmbeddedRuntime,
  scope: { accountId: string; sourceId: string },
): Promise<Statistics> {
  const result = await runtime.warehouse.client.query({
    query: `SELECT subject, JSONExtractString(attrs, 'product_name') AS stat_key,
                   sum(JSONExtractInt(attrs, 'quantity')) AS amount
            FROM ${runtime.warehouse.table(tables.eventsRaw)}
            WHERE account_id = {accountId:String} AND source_id = {sourceId:String} AND name = {name:String}
              AND subject != ''
            GROUP BY subject, stat_key`,
    query_params: { ...scope, name: EVENT_NAME },
    format: 'JSONEachRow',
  })
  const statistics: Statistics = new Map()
  for (const row of z.array(RawRow).parse(await result.json())) {
    const values = statistics.get(row.subject) ?? new Map<string, number>()
    values.set(row.stat_key, row.amount)
    statistics.set(row.subject, values)
  }
  return statistics
}

const sameStatistics = (a: Statistics, b: Statistics) =>
  a.size === b.size &&
  [...a].every(([user, values]) => {
    const other = b.get(user)
    return (
      other !== undefined && other.size === values.size && [...values].every(([k, v]) => other.get(k) === v)
    )
  })

/** An account with a Metrica app and its product-view event, through the public APIs. */
export async function prepareApp(client: LoopbackClient) {
  const signup = expectOk(
    await client.send('POST', '/v1/auth/signup', {
      body: JSON.stringify({
        email: `bench-stats-${randomUUID()}@example.com`,
        password: 'correct horse battery staple',
        name: 'Benchmark',
      }),
    }),
    'sign-up',
  ) as { token: string; accountId: string }
  const app = expectOk(
    await client.send('POST', '/compat/metrica/app/create', {
      token: signup.token,
      body: JSON.stringify({ app_name: 'bench-electronic-shop' }),
    }),
    'create app',
  ) as { app_code: string }
  const event = expectOk(
    await client.send('POST', `/compat/metrica/app/create_event/${app.app_code}`, {
      token: signup.token,
      body: JSON.stringify({
        events: [
          {
            name: EVENT_NAME,
            attrs: [
              { name: 'product_name', type: 'string' },
              { name: 'quantity', type: 'integer' },
            ],
          },
        ],
      }),
    }),
    'define event',
  ) as { event_code: string }
  // The app code is the app name's slug, then the source id.
  const sourceId = sourceIdOfAppCode(app.app_code)
  if (sourceId === null) throw new Error(`the app code ${app.app_code} names no source`)
  return {
    jwt: signup.token,
    accountId: signup.accountId,
    sourceId,
    eventCode: event.event_code,
  }
}

/**
 * Loads the events straight into the log (the fast path: the HTTP ingest is measured
 * elsewhere), in big batches, as ingest would have stamped them after the definition.
 */
export async function loadEvents(
  runtime: EmbeddedRuntime,
  scope: { accountId: string; sourceId: string },
  plan: PerUserStatsPlan,
  note: (message: string) => void,
) {
  const now = Date.now()
  const stream = telemetryStream(scope.sourceId)
  for (let from = 0; from < plan.events; from += plan.appendBatch) {
    const count = Math.min(plan.appendBatch, plan.events - from)
    const records = Array.from({ length: count }, (_, i) => {
      const index = from + i
      const h1 = mix(index * 0x9e3779b1 + 17)
      const h2 = mix(h1 + 0x632be5ab)
      const id = `stats-${index.toString(36)}`
      const event: TelemetryEvent = {
        id,
        accountId: scope.accountId,
        sourceId: scope.sourceId,
        name: EVENT_NAME,
        timestamp: now - (h1 % (plan.days * 24 * 3600)) * 1000,
        receivedAt: now,
        subject: `user-${(h2 % plan.users).toString().padStart(6, '0')}`,
        attrs: { product_name: `sku-${(h1 >>> 8) % plan.products}`, quantity: 1 + ((h2 >>> 12) % 9) },
      }
      return { stream, id, type: TELEMETRY_EVENT, data: event }
    })
    await runtime.telemetry.appendEvents(records)
    if ((from / plan.appendBatch) % 10 === 0)
      note(`appended ${(from + count).toLocaleString('en-US')} events`)
  }
}

/** Waits until every projection has applied the whole log, saying how far each is every 5 s. */
export async function settle(runtime: EmbeddedRuntime, note: (message: string) => void) {
  const ticker = setInterval(async () => {
    const statuses = await runtime.worker.status()
    note(
      `projecting: ${statuses.map((s) => `${s.projection} lag ${s.lag.toLocaleString('en-US')}`).join(', ')}`,
    )
  }, 5000)
  ticker.unref()
  try {
    await caughtUp(runtime)
  } finally {
    clearInterval(ticker)
  }
}

/**
 * The per-user statistics query over one app source: p50/p99 of `GET /compat/metrica/<app>/<event>`
 * (served from the `user-stats` projection), next to the same answer computed from `events_raw`
 * with SQL in the same run, with a check that both answers are equal.
 */
export const createPerUserStatsBench =
  (plan: PerUserStatsPlan): BenchPhase =>
  async (runtime) => {
    const note = (message: string) => process.stderr.write(`[bench] ${PHASE}: ${message}\n`)
    const client = createLoopbackClient(runtime.url, 2)
    try {
      const app = await prepareApp(client)
      const scope = { accountId: app.accountId, sourceId: app.sourceId }
      const loadStart = performance.now()
      await loadEvents(runtime, scope, plan, note)
      await settle(runtime, note)
      const loadSeconds = (performance.now() - loadStart) / 1000
      note(
        `${plan.events.toLocaleString('en-US')} events appended and projected in ${loadSeconds.toFixed(1)} s`,
      )

      const path = `/compat/metrica/${app.sourceId}/${app.eventCode}`
      const httpLatencies: number[] = []
      let httpAnswer = ''
      for (let i = 0; i < plan.warmupQueries + plan.httpQueries; i++) {
        const askedAt = performance.now()
        const answer = await client.send('GET', path, { token: app.jwt })
        expectOk(answer, 'per-user statistics')
        if (i >= plan.warmupQueries) httpLatencies.push(answer.at - askedAt)
        httpAnswer = answer.body
      }
      note(`${plan.httpQueries} statistics reads through HTTP done`)

      const rawLatencies: number[] = []
      let rawAnswer: Statistics = new Map()
      for (let i = 0; i < plan.warmupQueries + plan.rawQueries; i++) {
        const askedAt = performance.now()
        rawAnswer = await statisticsFromRawEvents(runtime, scope)
        if (i >= plan.warmupQueries) rawLatencies.push(performance.now() - askedAt)
      }
      note(`${plan.rawQueries} reads of the same answer from the raw events done`)

      const projected = fromHttp(httpAnswer)
      const equal = sameStatistics(projected, rawAnswer)
      const groups = [...projected.values()].reduce((sum, values) => sum + values.size, 0)
      const httpP50 = percentile(httpLatencies, 50)
      const rawP50 = percentile(rawLatencies, 50)
      const figure = phaseFigures(PHASE)
      return [
        figure('events in the app source', plan.events, 'events'),
        figure('users in the answer', projected.size, 'users'),
        figure('user × product sums in the answer', groups, 'values'),
        figure('from the projection, over HTTP: p50', httpP50, 'ms'),
        figure('from the projection, over HTTP: p99', percentile(httpLatencies, 99), 'ms'),
        figure('from events_raw, SQL only: p50', rawP50, 'ms'),
        figure('from events_raw, SQL only: p99', percentile(rawLatencies, 99), 'ms'),
        figure('events_raw p50 ÷ projection p50', rawP50 / httpP50, '×', {
          goal: '> 1×',
          meets: rawP50 > httpP50,
        }),
        figure('both answers equal', equal ? 1 : 0, 'yes = 1', { goal: '1', meets: equal }),
      ]
    } finally {
      client.close()
    }
  }

/** The bench phase with at least 1,000,000 events in the source. */
export const perUserStatsBench: BenchPhase = createPerUserStatsBench(PER_USER_STATS_PLAN)
