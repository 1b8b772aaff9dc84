import { tables } from '@hourglass/projections/tables'
import { errors } from '@hourglass/schemas'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { QueryTime } from './queryTime.ts'
import { defineQuery, type NamedQuery, runQuery, type WarehouseReader } from './warehouseReader.ts'

export interface StoreScope {
  readonly storeId: string
  readonly accountId: string
  /** The store's integer number, as APIs with integer store ids know it. */
  readonly number: number
}

export interface StoreStatsDeps {
  readonly warehouse: WarehouseReader
  /** The active store a request's access token speaks for. */
  authenticateStore(request: FastifyRequest): Promise<StoreScope>
}

const FAR_PAST = 0
const FAR_FUTURE = 253402300799000 // 9999-12-31

const DailyParams = z.object({
  accountId: z.string(),
  storeId: z.string(),
  type: z.string(),
  from: z.number(),
  to: z.number(),
})
const dailyWhere = `account_id = {accountId:String} AND store_id = {storeId:String}
      AND ({type:String} = '' OR type = {type:String})
      AND hour >= toStartOfHour(fromUnixTimestamp64Milli({from:Int64}, 'UTC'))
      AND hour < fromUnixTimestamp64Milli({to:Int64}, 'UTC')`

export const dailyEventAmountQuery = defineQuery({
  name: 'dailyEventAmount',
  params: DailyParams,
  row: z.object({ day: z.string(), events: z.coerce.number() }),
  sql: (r) => `
    SELECT toString(toDate(hour)) AS day, sum(events) AS events
    FROM ${r.table(tables.storeHourly)}
    WHERE ${dailyWhere}
    GROUP BY day HAVING events > 0 ORDER BY day`,
})

export const dailyAverageDurationQuery = defineQuery({
  name: 'dailyAverageDuration',
  params: DailyParams,
  row: z.object({ day: z.string(), average: z.coerce.number() }),
  sql: (r) => `
    SELECT toString(toDate(hour)) AS day, sum(duration_sum) / sum(duration_count) AS average
    FROM ${r.table(tables.storeHourly)}
    WHERE ${dailyWhere}
    GROUP BY day HAVING sum(duration_count) > 0 ORDER BY day`,
})

/**
 * Seed 001's "average" per UTC day, as its original computes it: the events of a type that day
 * divided by the distinct users who had one. Read from the raw events, which hold the users.
 */
export const dailyEventsPerUserQuery = defineQuery({
  name: 'dailyEventsPerUser',
  params: DailyParams,
  row: z.object({ day: z.string(), average: z.coerce.number() }),
  sql: (r) => `
    SELECT toString(toDate(ts)) AS day, count() / uniqExact(person_id) AS average
    FROM ${r.table(tables.storeEvents)}
    WHERE account_id = {accountId:String} AND store_id = {storeId:String} AND type = {type:String}
      AND ts >= fromUnixTimestamp64Milli({from:Int64}, 'UTC') AND ts < fromUnixTimestamp64Milli({to:Int64}, 'UTC')
    GROUP BY day ORDER BY day`,
})

export const storeEventsPageQuery = defineQuery({
  name: 'storeEventsPage',
  params: z.object({
    accountId: z.string(),
    storeId: z.string(),
    personId: z.string(),
    type: z.string(),
    after: z.number(),
    limit: z.number(),
  }),
  row: z.object({
    position: z.coerce.number(),
    person_id: z.string(),
    type: z.string(),
    ts_ms: z.coerce.number(),
    data: z.string(),
  }),
  sql: (r) => `
    SELECT position, person_id, type, toUnixTimestamp64Milli(ts) AS ts_ms, data
    FROM ${r.table(tables.storeEvents)}
    WHERE account_id = {accountId:String} AND store_id = {storeId:String}
      AND ({personId:String} = '' OR person_id = {personId:String})
      AND ({type:String} = '' OR type = {type:String})
      AND position > {after:Int64}
    ORDER BY position
    LIMIT {limit:UInt32}`,
})

const Period = z
  .object({ from: QueryTime.optional(), to: QueryTime.optional() })
  .transform(({ from, to }) => ({ from: from ?? FAR_PAST, to: to ?? FAR_FUTURE }))
  .check((ctx) => {
    if (ctx.value.from > ctx.value.to) {
      ctx.issues.push({ code: 'custom', path: ['from'], message: 'must not be after `to`', input: ctx.value })
    }
  })
const EventType = z.string().trim().min(1).max(100)
const days = {
  amount: z.object({ days: z.array(z.object({ date: z.string(), eventAmount: z.number() })) }),
  average: z.object({ days: z.array(z.object({ date: z.string(), eventAvgTime: z.number() })) }),
}

/** Store statistics per UTC day, read from hourly aggregates, for the store of the access token. */
export const storeStatsRoutes: FastifyPluginAsync<StoreStatsDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()
  const tags = ['store statistics']
  /** The store's daily figures of one query: the same filter, the same shape of answer. */
  const perDay =
    <Row extends { day: string }, Day>(
      query: NamedQuery<typeof DailyParams, z.ZodType<Row>>,
      toDay: (row: Row) => Day,
    ) =>
    async (request: FastifyRequest, type: string, period: { from: number; to: number }) => {
      const store = await deps.authenticateStore(request)
      const filter = { accountId: store.accountId, storeId: store.storeId, type, ...period }
      return { days: (await runQuery(deps.warehouse, query, filter)).map(toDay) }
    }
  const amounts = perDay(dailyEventAmountQuery, (r) => ({ date: r.day, eventAmount: r.events }))
  const averages = perDay(dailyAverageDurationQuery, (r) => ({ date: r.day, eventAvgTime: r.average }))

  app.get(
    '/v1/store-stats/amount/:type',
    {
      schema: {
        tags,
        summary: 'Events of a type per UTC day',
        params: z.object({ type: EventType }),
        querystring: Period,
        response: { 200: days.amount },
      },
    },
    async (request) => amounts(request, request.params.type, request.query),
  )

  app.get(
    '/v1/store-stats/avg-time/:type',
    {
      schema: {
        tags,
        summary: 'Average duration (seconds) of events of a type per UTC day',
        description:
          'From a numeric `duration` in the event data; events without one are left out of the average.',
        params: z.object({ type: EventType }),
        querystring: Period,
        response: { 200: days.average },
      },
    },
    async (request) => averages(request, request.params.type, request.query),
  )

  app.get(
    '/v1/store-stats/amount',
    {
      schema: {
        tags,
        summary: 'Events of the store per UTC day',
        querystring: Period,
        response: { 200: days.amount },
      },
    },
    async (request) => amounts(request, '', request.query),
  )

  app.get(
    '/v1/store-events',
    {
      schema: {
        tags,
        summary: "The store's events, oldest first, a page at a time",
        querystring: z.object({
          userId: z.uuid().optional(),
          type: EventType.optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          after: z.coerce.number().int().min(-1).default(-1),
        }),
        response: {
          200: z.object({
            events: z.array(
              z.object({
                id: z.number(),
                userId: z.string(),
                type: z.string(),
                createdAt: z.string(),
                data: z.record(z.string(), z.unknown()),
              }),
            ),
            next: z.number().nullable(),
          }),
        },
      },
    },
    async (request) => {
      const store = await deps.authenticateStore(request)
      const { userId, type, limit, after } = request.query
      const rows = await runQuery(deps.warehouse, storeEventsPageQuery, {
        accountId: store.accountId,
        storeId: store.storeId,
        personId: userId ?? '',
        type: type ?? '',
        after,
        limit: limit + 1,
      })
      const page = rows.slice(0, limit)
      return {
        events: page.map((r) => ({
          id: r.position,
          userId: r.person_id,
          type: r.type,
          createdAt: new Date(r.ts_ms).toISOString(),
          data: JSON.parse(r.data) as Record<string, unknown>,
        })),
        next: rows.length > limit ? page[page.length - 1]!.position : null,
      }
    },
  )
}

/**
 * The original's paging of its daily lists: newest day first, `offset` days skipped, at most
 * `limit` (every day when not given: the original's default of 50 would cut a list silently).
 */
const CompatPage = z.strictObject({
  offset: z.coerce.number().int().min(0).max(1_000_000_000).default(0),
  limit: z.coerce.number().int().min(1).max(1_000_000).optional(),
})
const newestFirst = <T>(rows: readonly T[], { offset, limit }: z.output<typeof CompatPage>): T[] =>
  rows
    .slice()
    .reverse()
    .slice(offset, limit === undefined ? undefined : offset + limit)

const PAGE_HELP =
  'Newest day first. `offset` (days to skip) and `limit` (most days) page it as the original did; without ' +
  '`limit`, every day. Any other parameter is a 400.'

/** Store user statistics (seed 001), read side: daily lists of the store of the access token. */
export const storeStatsCompatReads: FastifyPluginAsync<StoreStatsDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()
  const tags = ['compat: store-stats']
  const daily = async (request: FastifyRequest, type: string) => {
    const store = await deps.authenticateStore(request)
    return {
      store,
      params: { accountId: store.accountId, storeId: store.storeId, type, from: FAR_PAST, to: FAR_FUTURE },
    }
  }
  const EventAmounts = z.array(z.object({ date: z.string(), event_amount: z.number() }))

  app.get(
    '/api/event/amount/:event_type',
    {
      schema: {
        tags,
        summary: 'Events of a type per day',
        description: PAGE_HELP,
        params: z.object({ event_type: EventType }),
        querystring: CompatPage,
        response: { 200: EventAmounts },
      },
    },
    async (request) => {
      const { params } = await daily(request, request.params.event_type)
      const rows = await runQuery(deps.warehouse, dailyEventAmountQuery, params)
      return newestFirst(rows, request.query).map((r) => ({ date: r.day, event_amount: r.events }))
    },
  )

  app.get(
    '/api/event/avg-time/:event_type',
    {
      schema: {
        tags,
        summary: 'Events of a type per user who had one, per day',
        description:
          'As the original computes its `event_avg_time`: the events of the type that day divided by the number ' +
          `of distinct users who had one. (The native /v1/store-stats/avg-time averages a \`duration\` instead.) ${PAGE_HELP}`,
        params: z.object({ event_type: EventType }),
        querystring: CompatPage,
        response: { 200: z.array(z.object({ date: z.string(), event_avg_time: z.number() })) },
      },
    },
    async (request) => {
      const { params } = await daily(request, request.params.event_type)
      const rows = await runQuery(deps.warehouse, dailyEventsPerUserQuery, params)
      return newestFirst(rows, request.query).map((r) => ({ date: r.day, event_avg_time: r.average }))
    },
  )

  app.get(
    '/api/event/store-events-amount/:store_id/',
    {
      schema: {
        tags,
        summary: 'Events of the store per day',
        description: PAGE_HELP,
        params: z.object({ store_id: z.coerce.number().int({ error: 'must be an integer store id' }) }),
        querystring: CompatPage,
        response: { 200: EventAmounts },
      },
    },
    async (request) => {
      const { store, params } = await daily(request, '')
      if (request.params.store_id !== store.number) throw errors.notFound('the store')
      const rows = await runQuery(deps.warehouse, dailyEventAmountQuery, params)
      return newestFirst(rows, request.query).map((r) => ({ date: r.day, event_amount: r.events }))
    },
  )
}
