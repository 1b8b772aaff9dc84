import { SourceParams } from '@hourglass/schemas'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { EventView, eventView } from './appAnalyticsReadRoutes.ts'
import { readHourlyRollupJson } from './hourlyRollupRead.ts'
import { sendJson } from './jsonAnswer.ts'
import { eventsPageQuery } from './queries.ts'
import { TimeRange } from './queryTime.ts'
import { answerKey, cachedAnswer, ceilHour, floorHour, HOUR_MS, type ReadCache } from './readCache.ts'
import { EventCursor, keysetPage, keysetStart, ownedSource } from './sourceAccess.ts'
import { runQuery, type WarehouseReader } from './warehouseReader.ts'

export interface QueryDeps {
  readonly warehouse: WarehouseReader
  /** The account a request speaks for (a 401 when it speaks for none). */
  authenticate(request: FastifyRequest): Promise<{ accountId: string }>
  /** Sources by id, only when owned by the account. */
  readonly sources: { findOwned(accountId: string, sourceId: string): Promise<{ sourceId: string } | null> }
  /** Answers kept until the projections of this process write what they read; absent, every read asks the warehouse. */
  readonly readCache?: ReadCache
}

const EventsPage = z.object({ events: z.array(EventView), nextCursor: z.string().nullable() })
type EventsPage = z.infer<typeof EventsPage>

/** The read API over the warehouse's rollups and raw events, scoped to the caller's account. */
export const queryRoutes: FastifyPluginAsync<QueryDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()

  const owned = (request: FastifyRequest, sourceId: string) => ownedSource(deps, request, sourceId)

  app.get(
    '/v1/sources/:id/rollups/hourly',
    {
      schema: {
        tags: ['analytics'],
        summary: 'Events and distinct subjects per event-time hour and event name',
        description:
          '`from`/`to`: ISO-8601 or epoch ms (default: the last 7 days); `name`: one event name. Hours are UTC.',
        params: SourceParams,
        querystring: z.object({ name: z.string().max(200).optional() }).and(TimeRange),
        response: {
          200: z.object({
            rows: z.array(
              z.object({
                hour: z.string(),
                name: z.string(),
                events: z.number(),
                subjects: z.number(),
                sessions: z.number(),
              }),
            ),
          }),
        },
      },
    },
    async (request, reply) => {
      const { accountId, sourceId } = await owned(request, request.params.id)
      const { from, to, name } = request.query
      const range = { accountId, sourceId, from, to, name: name ?? '' }
      return sendJson(reply, await readHourlyRollupJson(deps.warehouse, deps.readCache, range))
    },
  )

  app.get(
    '/v1/sources/:id/events',
    {
      schema: {
        tags: ['analytics'],
        summary: 'Raw events of a source in event-time order, a page at a time',
        description:
          'Filters: `name`, `category`, `session`, `subject`, `from`/`to` (default: the last 7 days). ' +
          'Pass `nextCursor` from one page as `cursor` to get the next; it is null on the last page.',
        params: SourceParams,
        querystring: z
          .object({
            name: z.string().max(200).optional(),
            category: z.string().max(100).optional(),
            session: z.string().max(200).optional(),
            subject: z.string().max(200).optional(),
            limit: z.coerce.number().int().min(1).max(1000).default(100),
            cursor: EventCursor.optional(),
          })
          .and(TimeRange),
        response: { 200: EventsPage },
      },
    },
    async (request, reply) => {
      const { accountId, sourceId } = await owned(request, request.params.id)
      const { from, to, name, category, session, subject, limit, cursor } = request.query
      const filter = {
        accountId,
        sourceId,
        from,
        to,
        name: name ?? '',
        category: category ?? '',
        session: session ?? '',
        subject: subject ?? '',
        ...keysetStart(cursor, from),
        limit: limit + 1,
      }
      const key = answerKey('eventsPage', accountId, filter)
      const json = await cachedAnswer(deps.readCache, key, async () => {
        const rows = await runQuery(deps.warehouse, eventsPageQuery, filter)
        const { page, nextCursor } = keysetPage(rows, limit)
        const answer: EventsPage = { events: page.map(eventView), nextCursor }
        // A full page depends on the events up to the first one it leaves out, not on later ones.
        const beyond = rows.length > limit ? rows[limit] : undefined
        return {
          json: JSON.stringify(answer),
          scope: {
            accountId,
            sourceId,
            fromHour: floorHour(Math.max(from, filter.afterTs)),
            toHour: beyond ? floorHour(beyond.ts_ms) + HOUR_MS : ceilHour(to),
          },
        }
      })
      return sendJson(reply, json)
    },
  )
}
