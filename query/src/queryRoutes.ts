import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { eventsPageQuery, hourlyRollupQuery } from './queries.ts'
import { TimeRange } from './queryTime.ts'
import { EventCursor, encodeEventCursor, ownedSource } from './sourceAccess.ts'
import { runQuery, type WarehouseReader } from './warehouseReader.ts'

export interface QueryDeps {
  readonly warehouse: WarehouseReader
  /** The account a request speaks for (a 401 when it speaks for none). */
  authenticate(request: FastifyRequest): Promise<{ accountId: string }>
  /** Sources by id, only when owned by the account. */
  readonly sources: { findOwned(accountId: string, sourceId: string): Promise<{ sourceId: string } | null> }
}

const SourceParams = z.object({ id: z.string().min(1).max(64) })

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
    async (request) => {
      const scope = await owned(request, request.params.id)
      const { from, to, name } = request.query
      const rows = await runQuery(deps.warehouse, hourlyRollupQuery, { ...scope, from, to, name: name ?? '' })
      return {
        rows: rows.map((row) => ({
          hour: new Date(row.hour_s * 1000).toISOString(),
          name: row.name,
          events: row.events,
          subjects: row.subjects,
          sessions: row.sessions,
        })),
      }
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
        response: {
          200: z.object({
            events: z.array(
              z.object({
                id: z.string(),
                position: z.number(),
                name: z.string(),
                timestamp: z.string(),
                receivedAt: z.string(),
                subject: z.string().optional(),
                session: z.string().optional(),
                category: z.string().optional(),
                attrs: z.record(z.string(), z.unknown()),
              }),
            ),
            nextCursor: z.string().nullable(),
          }),
        },
      },
    },
    async (request) => {
      const scope = await owned(request, request.params.id)
      const { from, to, name, category, session, subject, limit, cursor } = request.query
      const rows = await runQuery(deps.warehouse, eventsPageQuery, {
        ...scope,
        from,
        to,
        name: name ?? '',
        category: category ?? '',
        session: session ?? '',
        subject: subject ?? '',
        afterTs: cursor?.ts ?? from - 1,
        afterPosition: cursor?.position ?? 0,
        limit: limit + 1,
      })
      const page = rows.slice(0, limit)
      const last = page[page.length - 1]
      return {
        events: page.map((row) => ({
          id: row.id,
          position: row.position,
          name: row.name,
          timestamp: new Date(row.ts_ms).toISOString(),
          receivedAt: new Date(row.received_ms).toISOString(),
          ...(row.subject ? { subject: row.subject } : {}),
          ...(row.session ? { session: row.session } : {}),
          ...(row.category ? { category: row.category } : {}),
          attrs: JSON.parse(row.attrs) as Record<string, unknown>,
        })),
        nextCursor: rows.length > limit && last ? encodeEventCursor(last.ts_ms, last.position) : null,
      }
    },
  )
}
