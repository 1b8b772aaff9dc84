import { type AttrType, errors, statisticsAttributes } from '@hourglass/schemas'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import {
  eventByIdQuery,
  type RawEventRow,
  userStatsQuery,
  userStatsTotalQuery,
} from './appAnalyticsQueries.ts'
import { QueryTime } from './queryTime.ts'
import { ownedSource } from './sourceAccess.ts'
import { runQuery, type WarehouseReader } from './warehouseReader.ts'

/** An event definition as the read side needs it. */
export interface StatsDefinition {
  readonly eventCode: string
  readonly name: string
  readonly attrs: readonly { readonly name: string; readonly type: AttrType }[]
}

export interface AppAnalyticsReadDeps {
  readonly warehouse: WarehouseReader
  /** The account a request speaks for (a 401 when it speaks for none). */
  authenticate(request: FastifyRequest): Promise<{ accountId: string }>
  readonly sources: { findOwned(accountId: string, sourceId: string): Promise<{ sourceId: string } | null> }
  /** A source's event definition by its code. */
  findDefinition(sourceId: string, eventCode: string): Promise<StatsDefinition | null>
}

/** The end of time for ranges without `to`: later than any event Hourglass accepts. */
export const OPEN_RANGE_END = Date.UTC(2100, 0, 1)

export interface UserStatistics {
  readonly user: string
  /** Key (a value of the first string attribute, or the event's name) → sum. */
  readonly values: Record<string, number>
}

/**
 * Per-user statistics of a defined event, read from the `user-stats` projection: at most
 * `limit` users after `after`, in user order.
 */
export async function readUserStatistics(
  warehouse: WarehouseReader,
  scope: { accountId: string; sourceId: string },
  definition: StatsDefinition,
  range: { from?: number | undefined; to?: number | undefined; after?: string; limit: number },
): Promise<UserStatistics[]> {
  const common = { ...scope, name: definition.name, after: range.after ?? '', limit: range.limit }
  const rows =
    range.from === undefined && range.to === undefined
      ? await runQuery(warehouse, userStatsTotalQuery, common)
      : await runQuery(warehouse, userStatsQuery, {
          ...common,
          from: range.from ?? 0,
          to: range.to ?? OPEN_RANGE_END,
        })
  return rows.map((row) => ({
    user: row.subject,
    values: Object.fromEntries(row.keys.map((key, i) => [key, row.amounts[i] ?? 0])),
  }))
}

/** An event row as the native API shows it. */
export const EventView = z.object({
  id: z.string(),
  position: z.number(),
  name: z.string(),
  timestamp: z.string(),
  receivedAt: z.string(),
  subject: z.string().optional(),
  session: z.string().optional(),
  category: z.string().optional(),
  attrs: z.record(z.string(), z.unknown()),
})
export const eventView = (row: RawEventRow): z.infer<typeof EventView> => ({
  id: row.id,
  position: row.position,
  name: row.name,
  timestamp: new Date(row.ts_ms).toISOString(),
  receivedAt: new Date(row.received_ms).toISOString(),
  ...(row.subject ? { subject: row.subject } : {}),
  ...(row.session ? { session: row.session } : {}),
  ...(row.category ? { category: row.category } : {}),
  attrs: JSON.parse(row.attrs) as Record<string, unknown>,
})

const UserCursor = z
  .string()
  .max(400)
  .transform((value) => Buffer.from(value, 'base64url').toString('utf8'))

/** Native app analytics, read side: per-user statistics and single events. */
export const appAnalyticsReadRoutes: FastifyPluginAsync<AppAnalyticsReadDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()

  const owned = (request: FastifyRequest, sourceId: string) => ownedSource(deps, request, sourceId)

  app.get(
    '/v1/sources/:id/event-definitions/:eventCode/user-stats',
    {
      schema: {
        tags: ['analytics'],
        summary: 'Per-user statistics of a defined event',
        description: [
          "One row per user (the events' `subject`): one value per value of the event's first string attribute",
          "(or under the event's name if it has none), summing its first integer attribute (or counting events if it",
          'has none). Served from a projection. Counts events accepted after the definition. `from`/`to`: ISO-8601',
          'or epoch ms, whole hours (default: all time). Users in order, `limit` at a time; pass `nextCursor` as',
          '`cursor` for the next page.',
        ].join(' '),
        params: z.object({ id: z.string().min(1).max(64), eventCode: z.string().min(1).max(300) }),
        querystring: z.object({
          from: QueryTime.optional(),
          to: QueryTime.optional(),
          limit: z.coerce.number().int().min(1).max(10_000).default(1000),
          cursor: UserCursor.optional(),
        }),
        response: {
          200: z.object({
            eventCode: z.string(),
            name: z.string(),
            keyAttribute: z.string().nullable(),
            amountAttribute: z.string().nullable(),
            users: z.array(z.object({ user: z.string(), values: z.record(z.string(), z.number()) })),
            nextCursor: z.string().nullable(),
          }),
        },
      },
    },
    async (request) => {
      const scope = await owned(request, request.params.id)
      const definition = await deps.findDefinition(scope.sourceId, request.params.eventCode)
      if (!definition) throw errors.notFound(`the event definition "${request.params.eventCode}"`)
      const { from, to, limit, cursor } = request.query
      if (from !== undefined && to !== undefined && from > to)
        throw errors.invalidRequest([{ path: 'querystring.from', message: 'must not be after `to`' }])
      const users = await readUserStatistics(deps.warehouse, scope, definition, {
        from,
        to,
        after: cursor ?? '',
        limit: limit + 1,
      })
      const page = users.slice(0, limit)
      const { keyAttr, amountAttr } = statisticsAttributes(definition.attrs)
      return {
        eventCode: definition.eventCode,
        name: definition.name,
        keyAttribute: keyAttr,
        amountAttribute: amountAttr,
        users: page,
        nextCursor:
          users.length > limit
            ? Buffer.from(page[page.length - 1]!.user, 'utf8').toString('base64url')
            : null,
      }
    },
  )

  app.get(
    '/v1/sources/:id/events/:eventId',
    {
      schema: {
        tags: ['analytics'],
        summary: 'One event of a source by its id',
        params: z.object({ id: z.string().min(1).max(64), eventId: z.string().min(1).max(128) }),
        response: { 200: EventView },
      },
    },
    async (request) => {
      const scope = await owned(request, request.params.id)
      const [row] = await runQuery(deps.warehouse, eventByIdQuery, { ...scope, id: request.params.eventId })
      if (!row) throw errors.notFound(`the event "${request.params.eventId}"`)
      return eventView(row)
    },
  )
}
