import { errors, formatCents } from '@hourglass/schemas'
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import {
  addFigures,
  averageReceipt,
  type PlaceInfo,
  type ReceiptAnalytics,
  type ReceiptFigures,
  readReceiptAnalytics,
  readReceiptPlaces,
  ZERO_FIGURES,
} from '../receiptAnalytics.ts'
import { type ReceiptQueryDeps, ReceiptRange } from '../receiptRoutes.ts'

/** Seed 003's figures, named as its receipt names them; money as decimal text, as DRF writes it. */
const SeedFigures = z.object({
  purchases_count: z.number(),
  average_check: z.string(),
  total_amount: z.string(),
  nds_amount: z.string(),
  tips_amount: z.string(),
})
const seedFigures = (f: ReceiptFigures) => ({
  purchases_count: f.purchases,
  average_check: formatCents(averageReceipt(f)),
  total_amount: formatCents(f.revenue),
  nds_amount: formatCents(f.nds),
  tips_amount: formatCents(f.tips),
})

const SeedCategory = z.object({ category: z.string(), items_sold: z.number(), total_amount: z.string() })
const SeedHour = SeedFigures.extend({ hour: z.string() })
const SeedPlace = z.object({ place_id: z.string(), place_name: z.string() })

/**
 * Seed 003 knows a place by `place_id` alone: the same id under several sources of the account
 * is one place here, named as on its latest receipt.
 */
const byPlaceId = (places: readonly PlaceInfo[]): { placeId: string; placeName: string }[] => {
  const latest = new Map<string, PlaceInfo>()
  for (const place of places) {
    const seen = latest.get(place.placeId)
    if (!seen || place.lastReceiptAt > seen.lastReceiptAt) latest.set(place.placeId, place)
  }
  return [...latest.values()]
    .map((p) => ({ placeId: p.placeId, placeName: p.placeName }))
    .sort((a, b) => a.placeId.localeCompare(b.placeId))
}

const seedAnalytics = (analytics: ReceiptAnalytics) => ({
  ...seedFigures(analytics.totals),
  categories: analytics.categories.map((c) => ({
    category: c.category,
    items_sold: c.items,
    total_amount: formatCents(c.revenue),
  })),
  hourly: analytics.hours.map((h) => ({ hour: new Date(h.hour).toISOString(), ...seedFigures(h) })),
})

/** `account`, `from` and `to`, read as the native receipt reads read them; any other parameter is refused. */
const RangeQuery = z
  .strictObject({
    account: z.string().min(1).max(64).optional(),
    from: z.string().max(64).optional(),
    to: z.string().max(64).optional(),
  })
  .transform(({ account, from, to }, ctx) => {
    const range = ReceiptRange.safeParse({ from, to })
    if (range.success) return { account, ...range.data }
    for (const issue of range.error.issues)
      ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message })
    return z.NEVER
  })
const ACCESS =
  'Needs the analyst role: sign in at /auth/login/ and send "Authorization: Token <key>"; an account admin ' +
  'grants the role (PUT /v1/account/analysts/<username>). `from`/`to` (optional) bound it to whole UTC hours.'

/**
 * Seed 003's read side under /compat/receipts: places, overall analytics and analytics of one
 * place, computed from the same hourly projections as /v1/receipts/analytics.
 */
export const receiptsCompatQueryRoutes: FastifyPluginAsync<ReceiptQueryDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()

  app.get(
    '/api/places/',
    {
      schema: {
        tags: ['compat: receipts'],
        summary: 'Seed 003: places of purchase',
        description: ACCESS,
        querystring: z.object({ account: z.string().min(1).max(64).optional() }),
        response: { 200: z.array(SeedPlace) },
      },
    },
    async (request) => {
      const { accountId } = await deps.authorize(request, request.query.account)
      const places = await readReceiptPlaces(deps.warehouse, { accountId, sourceId: '', placeId: '' })
      return byPlaceId(places).map((p) => ({ place_id: p.placeId, place_name: p.placeName }))
    },
  )

  app.get(
    '/api/analytics/',
    {
      schema: {
        tags: ['compat: receipts'],
        summary:
          'Seed 003: overall analytics (purchases, average check, taxes, tips, categories, per place, per hour)',
        description: ACCESS,
        querystring: RangeQuery,
        response: {
          200: SeedFigures.extend({
            categories: z.array(SeedCategory),
            places: z.array(SeedPlace.extend(SeedFigures.shape)),
            hourly: z.array(SeedHour),
          }),
        },
      },
    },
    async (request) => {
      const { account, from, to } = request.query
      const { accountId } = await deps.authorize(request, account)
      const analytics = await readReceiptAnalytics(deps.warehouse, {
        accountId,
        sourceId: '',
        placeId: '',
        from,
        to,
      })
      const names = new Map(
        byPlaceId(analytics.places.map((p) => p.place)).map((p) => [p.placeId, p.placeName]),
      )
      const perPlace = new Map<string, ReceiptFigures>()
      for (const p of analytics.places)
        perPlace.set(p.place.placeId, addFigures(perPlace.get(p.place.placeId) ?? ZERO_FIGURES, p))
      return {
        ...seedAnalytics(analytics),
        places: [...perPlace]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([placeId, f]) => ({
            place_id: placeId,
            place_name: names.get(placeId) ?? placeId,
            ...seedFigures(f),
          })),
      }
    },
  )

  app.get(
    '/api/analytics/:place_id/',
    {
      schema: {
        tags: ['compat: receipts'],
        summary: 'Seed 003: analytics of one place of purchase',
        description: `${ACCESS} 404 for a place with no receipts.`,
        params: z.object({ place_id: z.string().min(1).max(128) }),
        querystring: RangeQuery,
        response: {
          200: SeedPlace.extend(SeedFigures.shape).extend({
            categories: z.array(SeedCategory),
            hourly: z.array(SeedHour),
          }),
        },
      },
    },
    async (request) => {
      const { account, from, to } = request.query
      const placeId = request.params.place_id
      const { accountId } = await deps.authorize(request, account)
      const [place] = byPlaceId(await readReceiptPlaces(deps.warehouse, { accountId, sourceId: '', placeId }))
      if (!place) throw errors.notFound(`the place "${placeId}"`)
      const analytics = await readReceiptAnalytics(deps.warehouse, {
        accountId,
        sourceId: '',
        placeId,
        from,
        to,
      })
      return { place_id: place.placeId, place_name: place.placeName, ...seedAnalytics(analytics) }
    },
  )
}
