import { randomUUID } from 'node:crypto'
import type { Device } from '@hourglass/control'
import { readingRecord } from '@hourglass/ingest'
import { deviceReadingsProjection, tables } from '@hourglass/projections'
import { MetricSummaries } from '@hourglass/query'
import { z } from 'zod'
import type { EmbeddedRuntime } from '../embeddedRuntime.ts'
import type { BenchFigure, BenchPhase } from './benchFigure.ts'
import {
  createLoopbackClient,
  inParallel,
  type LoopbackAnswer,
  type LoopbackClient,
} from './loopbackClient.ts'
import { percentile } from './measures.ts'

const HOUR_MS = 3600_000
const DAY_MS = 24 * HOUR_MS
const PHASE = 'devices'

/** Sizes: about a minute and a half on two cores. */
const PLAN = {
  http: { readings: 50_000, batchSize: 500, devices: 100, users: 10, concurrency: 8, days: 30 },
  year: { readings: 1_000_000, appendBatch: 10_000 },
  queries: { warmup: 3, summaries: 60, raw: 20 },
  /** The documented tolerance of medians and p95, in rank: 1% of the readings, at least one. */
  rankTolerance: 0.01,
} as const

const progress = (message: string) => process.stderr.write(`[bench devices] ${message}\n`)

const expectStatus = (answer: LoopbackAnswer, status: number, what: string): unknown => {
  if (answer.status !== status)
    throw new Error(`${what}: expected HTTP ${status}, got ${answer.status}: ${answer.body}`)
  return JSON.parse(answer.body)
}

/** A deterministic hash of an index (murmur3 finaliser), so every run sends the same readings. */
const mix = (value: number) => {
  let h = value | 0
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296
}
/** Temperature with a daily cycle, humidity with a yearly one, each with noise; two decimals. */
export const metricsAt = (timestamp: number, index: number) => ({
  temperature:
    Math.round((20 + 8 * Math.sin((2 * Math.PI * timestamp) / DAY_MS) + 4 * mix(index)) * 100) / 100,
  humidity:
    Math.round((55 + 20 * Math.sin((2 * Math.PI * timestamp) / (365 * DAY_MS)) + 10 * mix(~index)) * 100) /
    100,
})

export interface Fleet {
  readonly token: string
  readonly sourceId: string
  readonly apiToken: string
  readonly accountId: string
}

export async function createFleet(client: LoopbackClient): Promise<Fleet> {
  const signUp = expectStatus(
    await client.send('POST', '/v1/auth/signup', {
      body: JSON.stringify({
        email: `bench-devices-${randomUUID()}@example.com`,
        password: 'correct horse battery staple',
        name: 'Devices benchmark',
      }),
    }),
    201,
    'sign-up',
  ) as { token: string; accountId: string }
  const source = expectStatus(
    await client.send('POST', '/v1/sources', {
      token: signUp.token,
      body: JSON.stringify({ kind: 'device', name: 'bench fleet' }),
    }),
    201,
    'create fleet',
  ) as { id: string; apiToken: string }
  return { token: signUp.token, accountId: signUp.accountId, sourceId: source.id, apiToken: source.apiToken }
}

const DeviceAnswer = z.object({
  id: z.string(),
  bindings: z.array(
    z.object({ userId: z.string().nullable(), effectiveFrom: z.string(), boundAt: z.string() }),
  ),
})

/** Setup only, not measured: the loopback client speaks GET and POST, bindings are PUTs. */
async function put(baseUrl: string, path: string, token: string, body: unknown) {
  const response = await fetch(new URL(path, baseUrl), {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  return {
    status: response.status,
    body: await response.text(),
    at: performance.now(),
  } satisfies LoopbackAnswer
}

export async function bindDevices(
  client: LoopbackClient,
  baseUrl: string,
  fleet: Fleet,
  deviceIds: readonly string[],
  users: number,
  from: number,
) {
  const userIds: string[] = []
  for (let u = 0; u < users; u++) {
    const user = expectStatus(
      await client.send('POST', `/v1/sources/${fleet.sourceId}/device-users`, {
        token: fleet.token,
        body: JSON.stringify({ name: `${deviceIds[0]}-owner-${u}`, password: 'correct horse battery' }),
      }),
      201,
      'create device user',
    ) as { id: string }
    userIds.push(user.id)
  }
  const devices: Device[] = []
  for (const [i, deviceId] of deviceIds.entries()) {
    const answer = DeviceAnswer.parse(
      expectStatus(
        await put(baseUrl, `/v1/sources/${fleet.sourceId}/devices/${deviceId}/owner`, fleet.token, {
          userId: userIds[i % users],
          effectiveFrom: from,
        }),
        200,
        'bind device',
      ),
    )
    devices.push({
      accountId: fleet.accountId,
      sourceId: fleet.sourceId,
      deviceId: answer.id,
      revision: answer.bindings.length - 1,
      bindings: answer.bindings.map((b) => ({
        userId: b.userId,
        effectiveFrom: Date.parse(b.effectiveFrom),
        at: Date.parse(b.boundAt),
      })),
    })
  }
  return devices
}

/** Resolves once the device readings projection has applied the whole log. */
const summaryCaughtUp = async (runtime: EmbeddedRuntime) =>
  runtime.worker.caughtUp(deviceReadingsProjection.name, await runtime.telemetry.partitionHeads())

/** Readings over HTTP, batched, from many devices: readings/s acknowledged, and until projected. */
async function measureHttpIngest(
  runtime: EmbeddedRuntime,
  client: LoopbackClient,
  fleet: Fleet,
): Promise<BenchFigure[]> {
  const { readings, batchSize, devices, users, concurrency, days } = PLAN.http
  const now = Date.now()
  const deviceIds = Array.from({ length: devices }, (_, i) => `http-device-${i}`)
  await bindDevices(client, runtime.url, fleet, deviceIds, users, now - (days + 1) * DAY_MS)
  const bodies = Array.from({ length: readings / batchSize }, (_, b) =>
    JSON.stringify({
      readings: Array.from({ length: batchSize }, (_, k) => {
        const index = b * batchSize + k
        const timestamp = now - Math.floor(mix(index * 7919) * days * DAY_MS)
        return {
          id: `r${index}`,
          deviceId: deviceIds[index % devices],
          timestamp,
          metrics: metricsAt(timestamp, index),
        }
      }),
    }),
  )
  progress(
    `HTTP ingest: ${readings.toLocaleString('en-US')} readings in batches of ${batchSize}, ${concurrency} clients`,
  )
  const startedAt = performance.now()
  await inParallel(bodies.length, concurrency, async (b) => {
    expectStatus(
      await client.send('POST', '/v1/readings', { token: fleet.apiToken, body: bodies[b] }),
      200,
      'readings',
    )
  })
  const ackedAt = performance.now()
  progress(
    `HTTP ingest: acknowledged in ${((ackedAt - startedAt) / 1000).toFixed(1)} s; waiting for the projection`,
  )
  await summaryCaughtUp(runtime)
  const projectedAt = performance.now()
  return [
    {
      phase: PHASE,
      name: 'readings ingest over HTTP (acknowledged, durable)',
      value: readings / ((ackedAt - startedAt) / 1000),
      unit: 'readings/s',
    },
    {
      phase: PHASE,
      name: 'readings ingest over HTTP until summarised',
      value: readings / ((projectedAt - startedAt) / 1000),
      unit: 'readings/s',
    },
  ]
}

const SummaryAnswer = z.object({ metrics: MetricSummaries })

const RawRow = z.object({
  metric: z.string(),
  n: z.coerce.number(),
  lo: z.number(),
  hi: z.number(),
  total: z.number(),
  qs: z.array(z.number()),
})

/**
 * One device, a year of readings (≥ 1,000,000, appended straight into the log as ingest would
 * stamp them, then projected), and its one-year summary: from the daily and hourly states over HTTP, and
 * the same summary computed from the raw readings in SQL, in the same run.
 */
async function measureYearSummary(
  runtime: EmbeddedRuntime,
  client: LoopbackClient,
  fleet: Fleet,
): Promise<BenchFigure[]> {
  const { readings, appendBatch } = PLAN.year
  const to = Math.floor(Date.now() / HOUR_MS) * HOUR_MS
  const from = to - 365 * DAY_MS
  const step = (to - from) / readings
  const [device] = await bindDevices(client, runtime.url, fleet, ['year-device'], 1, from)
  progress(`one year: appending ${readings.toLocaleString('en-US')} readings of one device to the log`)
  // Projections pause while the year is appended, so that appending and projecting are measured apart.
  await runtime.worker.close()
  const appendStarted = performance.now()
  const receivedAt = Date.now()
  try {
    for (let start = 0; start < readings; start += appendBatch) {
      const records = Array.from({ length: Math.min(appendBatch, readings - start) }, (_, k) => {
        const index = start + k
        const timestamp = from + Math.floor(index * step)
        return readingRecord(
          device!,
          { id: `y${index}`, deviceId: device!.deviceId, timestamp, metrics: metricsAt(timestamp, index) },
          receivedAt,
        )
      })
      await runtime.telemetry.appendEvents(records)
    }
  } finally {
    await runtime.worker.start()
  }
  const appendedAt = performance.now()
  progress('one year: waiting for the projection')
  await summaryCaughtUp(runtime)
  const projectedAt = performance.now()

  const path = `/v1/sources/${fleet.sourceId}/devices/${device!.deviceId}/summary?from=${from}&to=${to}`
  const timed = async <T>(count: number, run: () => Promise<T>) => {
    const samples: number[] = []
    let last: T | undefined
    for (let i = 0; i < count; i++) {
      const startedAt = performance.now()
      last = await run()
      samples.push(performance.now() - startedAt)
    }
    return { samples, last: last! }
  }
  const viaStates = () =>
    client
      .send('GET', path, { token: fleet.token })
      .then((a) => SummaryAnswer.parse(expectStatus(a, 200, 'summary')).metrics)
  const raw = runtime.warehouse.table(tables.deviceReadingsRaw)
  const scope =
    'account_id = {accountId:String} AND source_id = {sourceId:String} AND device_id = {deviceId:String}'
  const params = {
    accountId: fleet.accountId,
    sourceId: fleet.sourceId,
    deviceId: device!.deviceId,
    from,
    to,
  }
  const viaRaw = async () => {
    const result = await runtime.warehouse.client.query({
      query: `SELECT metric, count() AS n, min(value) AS lo, max(value) AS hi, sum(value) AS total,
                     quantilesExactInclusive(0.5, 0.95)(value) AS qs
              FROM ${raw}
              WHERE ${scope} AND ts >= fromUnixTimestamp64Milli({from:Int64}, 'UTC') AND ts < fromUnixTimestamp64Milli({to:Int64}, 'UTC')
              GROUP BY metric ORDER BY metric`,
      query_params: params,
      format: 'JSONEachRow',
    })
    return z.array(RawRow).parse(await result.json())
  }
  progress('one year: summary queries')
  await timed(PLAN.queries.warmup, viaStates)
  await timed(PLAN.queries.warmup, viaRaw)
  const states = await timed(PLAN.queries.summaries, viaStates)
  const exact = await timed(PLAN.queries.raw, viaRaw)

  /** Whether the estimate lies between the readings ranked within the tolerance of the exact rank (float32 slack). */
  const withinTolerance = async (metric: string, n: number, q: number, estimate: number) => {
    const slack = Math.max(1, Math.ceil(PLAN.rankTolerance * n))
    const rank = q * (n - 1)
    const lowest = Math.max(0, Math.floor(rank) - slack)
    const highest = Math.min(n - 1, Math.ceil(rank) + slack)
    const epsilon = Math.abs(estimate) * 2 ** -23
    const result = await runtime.warehouse.client.query({
      query: `SELECT countIf(value <= {upper:Float64}) AS at_or_below, countIf(value < {lower:Float64}) AS below
              FROM ${raw} WHERE ${scope} AND metric = {metric:String}
                AND ts >= fromUnixTimestamp64Milli({from:Int64}, 'UTC') AND ts < fromUnixTimestamp64Milli({to:Int64}, 'UTC')`,
      query_params: { ...params, metric, upper: estimate + epsilon, lower: estimate - epsilon },
      format: 'JSONEachRow',
    })
    const [row] = z
      .array(z.object({ at_or_below: z.coerce.number(), below: z.coerce.number() }))
      .parse(await result.json())
    return row!.at_or_below >= lowest + 1 && row!.below <= highest
  }
  const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b))
  let agree = exact.last.length === Object.keys(states.last).length
  let worstQuantileDeviation = 0
  for (const row of exact.last) {
    const got = states.last[row.metric]
    if (!got) {
      agree = false
      continue
    }
    agree &&= got.count === row.n && got.min === row.lo && got.max === row.hi
    agree &&= close(got.sum, row.total) && close(got.mean, row.total / row.n)
    agree &&=
      (await withinTolerance(row.metric, row.n, 0.5, got.median)) &&
      (await withinTolerance(row.metric, row.n, 0.95, got.p95))
    const span = row.hi - row.lo || 1
    worstQuantileDeviation = Math.max(
      worstQuantileDeviation,
      Math.abs(got.median - row.qs[0]!) / span,
      Math.abs(got.p95 - row.qs[1]!) / span,
    )
  }
  const summarised = exact.last.reduce((sum, row) => Math.max(sum, row.n), 0)
  progress(
    `one year: ${summarised.toLocaleString('en-US')} readings per metric summarised; answers ${agree ? 'agree' : 'DISAGREE'}`,
  )
  const p50 = percentile(states.samples, 50)
  const p99 = percentile(states.samples, 99)
  const rawP50 = percentile(exact.samples, 50)
  const rawP99 = percentile(exact.samples, 99)
  return [
    {
      phase: PHASE,
      name: 'one year, one device: readings summarised',
      value: summarised,
      unit: 'readings',
      goal: '≥ 1,000,000',
      meets: summarised >= 1_000_000,
    },
    {
      phase: PHASE,
      name: 'one year: log append, straight into the log (setup)',
      value: readings / ((appendedAt - appendStarted) / 1000),
      unit: 'readings/s',
    },
    {
      phase: PHASE,
      name: 'one year: projection into raw rows and hourly and daily states (setup)',
      value: readings / ((projectedAt - appendedAt) / 1000),
      unit: 'readings/s',
    },
    {
      phase: PHASE,
      name: `one-year summary from aggregate states over HTTP, p50 (${PLAN.queries.summaries} runs)`,
      value: p50,
      unit: 'ms',
    },
    { phase: PHASE, name: 'one-year summary from aggregate states over HTTP, p99', value: p99, unit: 'ms' },
    {
      phase: PHASE,
      name: `the same summary from raw readings in SQL, p50 (${PLAN.queries.raw} runs)`,
      value: rawP50,
      unit: 'ms',
    },
    { phase: PHASE, name: 'the same summary from raw readings in SQL, p99', value: rawP99, unit: 'ms' },
    {
      phase: PHASE,
      name: 'raw ÷ aggregate states, p50',
      value: rawP50 / p50,
      unit: '×',
      goal: '> 1×',
      meets: rawP50 / p50 > 1,
    },
    { phase: PHASE, name: 'raw ÷ aggregate states, p99', value: rawP99 / p99, unit: '×' },
    {
      phase: PHASE,
      name: 'largest median/p95 deviation from exact, share of the value range',
      value: worstQuantileDeviation,
      unit: '',
    },
    {
      phase: PHASE,
      name: 'both answers agree (counts, min, max, sums exact; quantiles within tolerance)',
      value: agree ? 1 : 0,
      unit: 'yes = 1',
      goal: '= 1',
      meets: agree,
    },
  ]
}

/** Device readings: ingest over HTTP, and a one-year per-device summary from aggregate states vs raw readings. */
export const devicesBench: BenchPhase = async (runtime) => {
  const client = createLoopbackClient(runtime.url, PLAN.http.concurrency * 2)
  try {
    const fleet = await createFleet(client)
    return [
      ...(await measureHttpIngest(runtime, client, fleet)),
      ...(await measureYearSummary(runtime, client, fleet)),
    ]
  } finally {
    client.close()
  }
}
