import { centsFromWarehouse, formatCents, ReceiptView } from '@hourglass/schemas'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { sendJson } from './jsonAnswer.ts'
import { QueryTime } from './queryTime.ts'
import { answerKey, cachedAnswer, type ReadCache } from './readCache.ts'
import {
  averageReceipt,
  type PlaceInfo,
  type ReceiptAnalytics,
  type ReceiptFigures,
  readReceiptAnalytics,
  readReceiptPlaces,
} from './receiptAnalytics.ts'
import { receiptJournalQuery, receiptRunsQuery } from './receiptQueries.ts'
import { EventCursor, keysetPage, keysetStart } from './sourceAccess.ts'
import { runQuery, type WarehouseReader } from './warehouseReader.ts'

export interface ReceiptQueryDeps {
  readonly warehouse: WarehouseReader
  /**
   * The account whose receipts a request may read: 401 without a valid token, 403 without the
   * analyst role. `account` names one when the caller is an analyst of several.
   */
  authorize(request: FastifyRequest, account?: string): Promise<{ accountId: string }>
  /** Answers kept until the projections of this process write what they read. */
  readonly readCache?: ReadCache
}

/** Earliest purchase time a receipt may have: the default start of a range. */
const EPOCH = Date.UTC(2000, 0, 1)
const HOUR_MS = 3600_000

/** `from`/`to` of receipt reads: all receipts by default (they accumulate, as in seed 003). */
export const ReceiptRange = z
  .object({ from: QueryTime.optional(), to: QueryTime.optional() })
  .transform(({ from, to }) => ({ from: from ?? EPOCH, to: to ?? Date.now() + 8 * 24 * HOUR_MS }))
  .check((ctx) => {
    if (ctx.value.from > ctx.value.to)
      ctx.issues.push({ code: 'custom', path: ['from'], message: 'must not be after `to`', input: ctx.value })
  })

const Id = z.string().min(1).max(128)
export const ReceiptFilter = z.object({
  source: Id.optional(),
  place: Id.optional(),
  account: z.string().min(1).max(64).optional(),
})

const FiguresView = z.object({
  purchases: z.number(),
  averageReceipt: z.string(),
  revenue: z.string(),
  nds: z.string(),
  tips: z.string(),
})
export const figuresView = (f: ReceiptFigures) => ({
  purchases: f.purchases,
  averageReceipt: formatCents(averageReceipt(f)),
  revenue: formatCents(f.revenue),
  nds: formatCents(f.nds),
  tips: formatCents(f.tips),
})

const PlaceView = z.object({
  sourceId: z.string(),
  placeId: z.string(),
  placeName: z.string(),
  purchases: z.number(),
  firstReceiptAt: z.string(),
  lastReceiptAt: z.string(),
})
const placeView = (p: PlaceInfo) => ({
  sourceId: p.sourceId,
  placeId: p.placeId,
  placeName: p.placeName,
  purchases: p.purchases,
  firstReceiptAt: new Date(p.firstReceiptAt).toISOString(),
  lastReceiptAt: new Date(p.lastReceiptAt).toISOString(),
})

const money = (text: string) => formatCents(centsFromWarehouse(text))

const AnalyticsView = z.object({
  from: z.string(),
  to: z.string(),
  totals: FiguresView,
  hours: z.array(FiguresView.extend({ hour: z.string() })),
  categories: z.array(z.object({ category: z.string(), items: z.number(), revenue: z.string() })),
  places: z.array(FiguresView.extend({ sourceId: z.string(), placeId: z.string(), placeName: z.string() })),
})
const analyticsView = (
  from: number,
  to: number,
  analytics: ReceiptAnalytics,
): z.infer<typeof AnalyticsView> => ({
  from: new Date(from).toISOString(),
  to: new Date(to).toISOString(),
  totals: figuresView(analytics.totals),
  hours: analytics.hours.map((h) => ({ hour: new Date(h.hour).toISOString(), ...figuresView(h) })),
  categories: analytics.categories.map((c) => ({
    category: c.category,
    items: c.items,
    revenue: formatCents(c.revenue),
  })),
  places: analytics.places.map((p) => ({
    sourceId: p.place.sourceId,
    placeId: p.place.placeId,
    placeName: p.place.placeName,
    ...figuresView(p),
  })),
})

const ACCESS =
  "Readable with the account's own token (its admin) or a member token with the analyst role in the account; " +
  'others get 403. A member who is an analyst of several accounts names one with `account`.'

/** Receipt analytics, places and the receipt journal, scoped to the caller's account. */
export const receiptQueryRoutes: FastifyPluginAsync<ReceiptQueryDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()

  app.get(
    '/v1/receipts/analytics',
    {
      schema: {
        tags: ['receipts'],
        summary:
          'Purchases, average receipt, revenue, VAT and tips per hour, per category, per place and in total',
        description: [
          ACCESS,
          '`from`/`to`: ISO-8601 or epoch ms (default: every receipt); whole UTC hours from the hour of `from`.',
          '`source` and `place` narrow it to one source and/or one place. Money is decimal text with two places;',
          'the average receipt is rounded half up to the cent. `categories`: units sold and revenue per category.',
        ].join(' '),
        querystring: ReceiptFilter.and(ReceiptRange),
        response: { 200: AnalyticsView },
      },
    },
    async (request, reply) => {
      const { source, place, account, from, to } = request.query
      const { accountId } = await deps.authorize(request, account)
      const scope = { accountId, sourceId: source ?? '', placeId: place ?? '', from, to }
      const json = await cachedAnswer(
        deps.readCache,
        answerKey('receiptAnalytics', accountId, scope),
        async () => {
          const analytics = await readReceiptAnalytics(deps.warehouse, scope)
          // The places' names and first and last receipts are read over all time.
          const dependsOn = {
            accountId,
            sourceId: source ?? null,
            fromHour: 0,
            toHour: Number.POSITIVE_INFINITY,
          }
          return { json: JSON.stringify(analyticsView(from, to, analytics)), scope: dependsOn }
        },
      )
      return sendJson(reply, json)
    },
  )

  app.get(
    '/v1/receipts/places',
    {
      schema: {
        tags: ['receipts'],
        summary: 'Places of purchase, with the name on their latest receipt',
        description: ACCESS,
        querystring: ReceiptFilter,
        response: { 200: z.object({ places: z.array(PlaceView) }) },
      },
    },
    async (request) => {
      const { source, place, account } = request.query
      const { accountId } = await deps.authorize(request, account)
      const places = await readReceiptPlaces(deps.warehouse, {
        accountId,
        sourceId: source ?? '',
        placeId: place ?? '',
      })
      return { places: places.map(placeView) }
    },
  )

  app.get(
    '/v1/receipts',
    {
      schema: {
        tags: ['receipts'],
        summary: 'The journal of receipts received, in purchase-time order, a page at a time',
        description: `${ACCESS} Each receipt carries its log position. Pass \`nextCursor\` as \`cursor\` for the next page.`,
        querystring: ReceiptFilter.extend({
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          cursor: EventCursor.optional(),
        }).and(ReceiptRange),
        response: { 200: z.object({ receipts: z.array(ReceiptView), nextCursor: z.string().nullable() }) },
      },
    },
    async (request) => {
      const { source, place, account, from, to, limit, cursor } = request.query
      const { accountId } = await deps.authorize(request, account)
      const rows = await runQuery(deps.warehouse, receiptJournalQuery, {
        accountId,
        sourceId: source ?? '',
        placeId: place ?? '',
        from,
        to,
        ...keysetStart(cursor, from),
        limit: limit + 1,
      })
      const { page, nextCursor } = keysetPage(rows, limit)
      return {
        receipts: page.map((row) => ({
          transactionId: row.transaction_id,
          position: row.position,
          sourceId: row.source_id,
          placeId: row.place_id,
          placeName: row.place_name,
          paymentMethod: row.payment_method,
          timestamp: new Date(row.ts_ms).toISOString(),
          receivedAt: new Date(row.received_ms).toISOString(),
          items: row.product_ids.map((productId, line) => ({
            productId,
            category: row.categories[line] ?? '',
            quantity: row.quantities[line] ?? 0,
            price: money(row.prices_t[line] ?? '0'),
          })),
          total: money(row.total_t),
          nds: money(row.nds_t),
          tips: money(row.tips_t),
        })),
        nextCursor,
      }
    },
  )

  app.get(
    '/v1/receipts/runs',
    {
      schema: {
        tags: ['receipts'],
        summary: 'The journal of analytics runs: each projection batch that added receipts, newest first',
        description: [
          ACCESS,
          'A run is one batch of the log the receipts projection applied: its log range, how many of your',
          "receipts, units and revenue it added, their purchase-time span, and when. Seed 003's hourly job is a",
          'batch here, seconds after the receipts reach the log. A replay rebuilds this journal with the analytics.',
          'Pass `nextBefore` as `before` for older runs.',
        ].join(' '),
        querystring: z.object({
          account: z.string().min(1).max(64).optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          before: z.coerce.number().int().min(0).optional(),
        }),
        response: {
          200: z.object({
            runs: z.array(
              z.object({
                fromPosition: z.number(),
                toPosition: z.number(),
                receipts: z.number(),
                units: z.number(),
                revenue: z.string(),
                firstPurchaseAt: z.string(),
                lastPurchaseAt: z.string(),
                computedAt: z.string(),
              }),
            ),
            nextBefore: z.number().nullable(),
          }),
        },
      },
    },
    async (request) => {
      const { account, limit, before } = request.query
      const { accountId } = await deps.authorize(request, account)
      const rows = await runQuery(deps.warehouse, receiptRunsQuery, {
        accountId,
        beforePosition: before ?? Number.MAX_SAFE_INTEGER,
        limit: limit + 1,
      })
      const page = rows.slice(0, limit)
      return {
        runs: page.map((row) => ({
          fromPosition: row.from_position,
          toPosition: row.to_position,
          receipts: row.receipts_n,
          units: row.units_n,
          revenue: money(row.revenue_t),
          firstPurchaseAt: new Date(row.first_ms).toISOString(),
          lastPurchaseAt: new Date(row.last_ms).toISOString(),
          computedAt: new Date(row.computed_ms).toISOString(),
        })),
        nextBefore: rows.length > limit ? (page[page.length - 1]?.from_position ?? null) : null,
      }
    },
  )
}
