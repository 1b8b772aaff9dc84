import { randomUUID } from 'node:crypto'
import type { NewTelemetryRecord } from '@hourglass/log'
import { RECEIPT_RECEIVED, type ReceiptRecord, telemetryStream } from '@hourglass/schemas'
import type { EmbeddedRuntime } from '../embeddedRuntime.ts'
import type { BenchFigure, BenchPhase } from './benchFigure.ts'
import { createLoopbackClient, inParallel, type LoopbackAnswer } from './loopbackClient.ts'
import { percentile } from './measures.ts'

/** Sizes of the receipts phase: a few minutes on two cores, most of it projecting a million receipts. */
const PLAN = {
  concurrency: 16,
  warmupReceipts: 1_000,
  httpReceipts: 20_000,
  itemsPerReceipt: 5,
  loadedReceipts: 1_000_000,
  appendBatch: 10_000,
  places: 100,
  spreadDays: 30,
  queries: 300,
  visibleTimeoutMs: 600_000,
} as const

const DAY_MS = 24 * 3600_000
const CATEGORIES = ['groceries', 'electronics', 'clothing', 'pharmacy', 'books', 'toys', 'household'] as const

const mix = (value: number): number => {
  let h = value | 0
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

const money = (cents: number) => `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`

/**
 * Receipt `index` with 5 lines, as a point of sale sends it (seed 003's shape: money as JSON
 * numbers, each cents / 100, whose shortest text has at most two decimals).
 */
export function receipt(prefix: string, index: number, time: number) {
  const items = Array.from({ length: PLAN.itemsPerReceipt }, (_, line) => {
    const h = mix(index * 31 + line)
    return {
      product_id: `sku-${(h % 5000).toString().padStart(5, '0')}`,
      quantity: 1 + (h % 3),
      priceCents: 50 + (mix(h) % 20_000),
      category: CATEGORIES[(h >>> 8) % CATEGORIES.length]!,
    }
  })
  const totalCents = items.reduce((sum, item) => sum + item.quantity * item.priceCents, 0)
  const place = mix(index + 7) % PLAN.places
  return {
    transaction_id: `${prefix}-${index.toString(36)}`,
    timestamp: new Date(time).toISOString(),
    items: items.map(({ priceCents, ...item }) => ({ ...item, price: priceCents / 100 })),
    total_amount: totalCents / 100,
    nds_amount: Math.floor(totalCents / 6) / 100,
    tips_amount: (mix(index) % 500) / 100,
    payment_method: index % 3 === 0 ? 'cash' : 'credit_card',
    place_id: `place-${place.toString().padStart(3, '0')}`,
    place_name: `Магазин №${place}`,
  }
}

/** Decimal text of an amount this generator made as cents / 100. */
const text = (amount: number) => money(Math.round(amount * 100))

/** The log record ingest would append for this receipt (see `toReceiptRecord`). */
export const toRecord = (
  scope: { accountId: string; sourceId: string },
  r: ReturnType<typeof receipt>,
  receivedAt: number,
): NewTelemetryRecord => {
  const data: ReceiptRecord = {
    transactionId: r.transaction_id,
    accountId: scope.accountId,
    sourceId: scope.sourceId,
    placeId: r.place_id,
    placeName: r.place_name,
    paymentMethod: r.payment_method,
    timestamp: Date.parse(r.timestamp),
    receivedAt,
    items: r.items.map((item) => ({
      productId: item.product_id,
      category: item.category,
      quantity: item.quantity,
      price: text(item.price),
    })),
    total: text(r.total_amount),
    nds: text(r.nds_amount),
    tips: text(r.tips_amount),
  }
  return { stream: telemetryStream(scope.sourceId), id: r.transaction_id, type: RECEIPT_RECEIVED, data }
}

const note = (message: string) => process.stderr.write(`[bench receipts] ${message}\n`)

const expectStatus = (answer: LoopbackAnswer, status: number, what: string) => {
  if (answer.status !== status)
    throw new Error(`${what}: expected HTTP ${status}, got ${answer.status}: ${answer.body}`)
  return JSON.parse(answer.body) as Record<string, unknown>
}

/** Waits until the receipts projection has applied the whole log, reporting progress. */
async function receiptsCaughtUp(runtime: EmbeddedRuntime): Promise<void> {
  const head = await runtime.telemetry.head()
  const abort = new AbortController()
  const timeout = setTimeout(() => abort.abort(), PLAN.visibleTimeoutMs)
  const ticker = setInterval(async () => {
    const { committed } = (await runtime.worker.status()).find((s) => s.projection === 'receipts')!
    note(`projected ${committed.toLocaleString('en-US')} of ${head.toLocaleString('en-US')} log records`)
  }, 5000)
  try {
    await runtime.worker.caughtUp('receipts', [head], abort.signal)
  } finally {
    clearTimeout(timeout)
    clearInterval(ticker)
  }
}

/**
 * Receipts (seed 003): single-receipt ingest over HTTP (5 lines each, 16 clients), then a
 * million receipts loaded straight into the log and projected, then the per-place analytics
 * query over HTTP (`GET /v1/receipts/analytics?source&place`, 30 days, one client).
 */
export const receiptsBench: BenchPhase = async (runtime) => {
  const client = createLoopbackClient(runtime.url, PLAN.concurrency * 2)
  try {
    const signUp = expectStatus(
      await client.send('POST', '/v1/auth/signup', {
        body: JSON.stringify({
          email: `bench-receipts-${randomUUID()}@example.com`,
          password: 'correct horse battery staple',
          name: 'Receipts benchmark',
        }),
      }),
      201,
      'sign-up',
    ) as { token: string; accountId: string }
    const createPlace = async (name: string) =>
      expectStatus(
        await client.send('POST', '/v1/sources', {
          token: signUp.token,
          body: JSON.stringify({ kind: 'place', name }),
        }),
        201,
        'create source',
      ) as { id: string; apiToken: string }
    const httpSource = await createPlace('bench-receipts-http')
    const loadedSource = await createPlace('bench-receipts-loaded')
    const now = Date.now()

    const sendReceipts = async (prefix: string, count: number, latencies: number[] | null) => {
      let failures = 0
      await inParallel(count, PLAN.concurrency, async (index) => {
        const body = JSON.stringify(receipt(prefix, index, now - (index % 3600) * 1000))
        const askedAt = performance.now()
        const answer = await client.send('POST', '/v1/receipts', { token: httpSource.apiToken, body })
        latencies?.push(answer.at - askedAt)
        if (answer.status !== 201) failures += 1
      })
      if (failures > 0) throw new Error(`${failures} of ${count} receipts were not accepted`)
    }

    note(`warm-up: ${PLAN.warmupReceipts} receipts over HTTP`)
    await sendReceipts('warm', PLAN.warmupReceipts, null)

    note(
      `ingest: ${PLAN.httpReceipts.toLocaleString('en-US')} receipts over HTTP, ${PLAN.concurrency} clients`,
    )
    const ingestLatencies: number[] = []
    const ingestStart = performance.now()
    await sendReceipts('http', PLAN.httpReceipts, ingestLatencies)
    const ingestSeconds = (performance.now() - ingestStart) / 1000
    await receiptsCaughtUp(runtime)

    note(`load: ${PLAN.loadedReceipts.toLocaleString('en-US')} receipts appended to the log`)
    const scope = { accountId: signUp.accountId, sourceId: loadedSource.id }
    const loadStart = performance.now()
    for (let from = 0; from < PLAN.loadedReceipts; from += PLAN.appendBatch) {
      const count = Math.min(PLAN.appendBatch, PLAN.loadedReceipts - from)
      const receivedAt = Date.now()
      const records = Array.from({ length: count }, (_, i) => {
        const index = from + i
        const time = now - (mix(index * 7 + 3) % (PLAN.spreadDays * 24 * 3600)) * 1000
        return toRecord(scope, receipt('load', index, time), receivedAt)
      })
      await runtime.telemetry.appendEvents(records)
      if ((from / PLAN.appendBatch) % 20 === 0) note(`appended ${(from + count).toLocaleString('en-US')}`)
    }
    const appendSeconds = (performance.now() - loadStart) / 1000
    await receiptsCaughtUp(runtime)
    const loadSeconds = (performance.now() - loadStart) / 1000

    note(`queries: ${PLAN.queries} per-place analytics over ${PLAN.spreadDays} days`)
    const from = now - (PLAN.spreadDays + 1) * DAY_MS
    const to = now + DAY_MS
    const queryLatencies: number[] = []
    let queryFailures = 0
    for (let q = 0; q < PLAN.queries; q++) {
      const place = `place-${(mix(q) % PLAN.places).toString().padStart(3, '0')}`
      const askedAt = performance.now()
      const answer = await client.send(
        'GET',
        `/v1/receipts/analytics?source=${loadedSource.id}&place=${place}&from=${from}&to=${to}`,
        { token: signUp.token },
      )
      queryLatencies.push(answer.at - askedAt)
      if (answer.status !== 200) queryFailures += 1
      else if (q === 0) {
        const { totals } = JSON.parse(answer.body) as { totals: { purchases: number } }
        note(`one place holds ${totals.purchases.toLocaleString('en-US')} receipts`)
      }
    }
    if (queryFailures > 0) note(`${queryFailures} analytics queries failed`)

    const phase = 'receipts'
    const figures: BenchFigure[] = [
      {
        phase,
        name: 'receipt ingest (HTTP, 1 receipt of 5 lines per request)',
        value: PLAN.httpReceipts / ingestSeconds,
        unit: 'receipts/s',
      },
      { phase, name: 'receipt ingest latency p50', value: percentile(ingestLatencies, 50), unit: 'ms' },
      { phase, name: 'receipt ingest latency p99', value: percentile(ingestLatencies, 99), unit: 'ms' },
      {
        phase,
        name: 'receipts appended to the log directly',
        value: PLAN.loadedReceipts / appendSeconds,
        unit: 'receipts/s',
      },
      {
        phase,
        name: `receipts projected (load of ${PLAN.loadedReceipts.toLocaleString('en-US')})`,
        value: PLAN.loadedReceipts / loadSeconds,
        unit: 'receipts/s',
      },
      {
        phase,
        name: `per-place analytics query p50 (${(PLAN.loadedReceipts + PLAN.httpReceipts).toLocaleString('en-US')} receipts)`,
        value: percentile(queryLatencies, 50),
        unit: 'ms',
      },
      { phase, name: 'per-place analytics query p99', value: percentile(queryLatencies, 99), unit: 'ms' },
    ]
    return figures
  } finally {
    client.close()
  }
}
