import { Readable } from 'node:stream'
import { errors, TheEyeEvent } from '@hourglass/schemas'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import {
  countEventsQuery,
  eventAtPositionQuery,
  eventsBeforeQuery,
  latestEventsCountedQuery,
  type RawEventRow,
} from '../appAnalyticsQueries.ts'
import { sendJson } from '../jsonAnswer.ts'
import { type AnswerScope, answerKey, cachedAnswer, floorHour, type ReadCache } from '../readCache.ts'
import { runQuery, type WarehouseReader } from '../warehouseReader.ts'
import { READ_YOUR_WRITES_MS } from './metricaCompatReads.ts'

export interface TheEyeReadDeps {
  readonly warehouse: WarehouseReader
  /** The account a request's `Authorization: Token <token>` speaks for. */
  authenticate(request: FastifyRequest): Promise<{ accountId: string }>
  /** The source holding an account's The Eye sessions and events. */
  eyeSourceId(accountId: string): string
  /**
   * Waits, at most `timeoutMs`, until the events projection has applied what this process
   * appended to the source; false when it had not by then.
   */
  awaitProjected(sourceId: string, timeoutMs: number): Promise<boolean>
  /** Answers kept until the projections of this process write what they read. */
  readonly readCache?: ReadCache
}

const tags = ['compat: the-eye']

const toEyeEvent = (row: RawEventRow): TheEyeEvent => ({
  id: row.position,
  session_id: row.session,
  category: row.category,
  name: row.name,
  data: JSON.parse(row.attrs) as Record<string, unknown>,
  timestamp: new Date(row.ts_ms).toISOString(),
})

/** A time in a query string: The Eye's `2021-11-12T12:30:06.902847Z`, with or without a zone (UTC). */
const SinceTime = z
  .string()
  .max(64)
  .transform((value, ctx) => {
    const match =
      /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2})(:\d{2})?(?:\.(\d+))?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(
        value.trim(),
      )
    const [, date, hm = '00:00', seconds = ':00', fraction = '', zone = 'Z'] = match ?? []
    const offset = zone === 'Z' || zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`
    const ms = date
      ? Date.parse(`${date}T${hm}${seconds}.${fraction.padEnd(3, '0').slice(0, 3)}${offset}`)
      : Number.NaN
    if (!Number.isFinite(ms)) {
      ctx.addIssue({ code: 'custom', message: 'must be a date and time such as 2021-11-12T12:30:06.902847Z' })
      return z.NEVER
    }
    return ms
  })

const PAGE_SIZE = 100
const MAX_PAGE_SIZE = 1000
/** Events read from the warehouse at a time while a whole list is streamed out. */
const STREAM_BATCH = 5000

const EventsQuery = z.strictObject({
  category: z.string().max(100).optional(),
  session_id: z.string().max(200).optional(),
  name: z.string().max(200).optional(),
  timestamp: SinceTime.optional(),
  page: z.coerce.number().int().min(1).max(1_000_000).optional(),
  page_size: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).optional(),
})

const EventList = z.array(TheEyeEvent)
const PagedEvents = z.object({
  count: z.number(),
  next: z.string().nullable(),
  previous: z.string().nullable(),
  results: z.array(TheEyeEvent),
})

/**
 * A JSON array written as it is read: each batch of items is serialised and handed on before the
 * next is fetched, so an answer of any length holds one batch in memory.
 */
async function* jsonArray(first: readonly unknown[], rest: AsyncIterable<readonly unknown[]>) {
  yield '['
  let separator = ''
  const chunk = (items: readonly unknown[]) => {
    let text = ''
    for (const item of items) {
      text += separator + JSON.stringify(item)
      separator = ','
    }
    return text
  }
  yield chunk(first)
  for await (const items of rest) yield chunk(items)
  yield ']'
}

/** The Eye (seed 002), read side: events of the caller's account, filtered; one event by id. */
export const theEyeCompatReads: FastifyPluginAsync<TheEyeReadDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()

  const scope = async (request: FastifyRequest) => {
    const { accountId } = await deps.authenticate(request)
    const sourceId = deps.eyeSourceId(accountId)
    // An event accepted a moment ago is listed: reads wait (briefly) for the projection to apply it.
    await deps.awaitProjected(sourceId, READ_YOUR_WRITES_MS)
    return { accountId, sourceId }
  }

  app.get(
    '/events/',
    {
      schema: {
        tags,
        summary: 'List the events, newest first: all of them, or a page when asked',
        description: [
          'Filters (all optional, combined): `category`, `session_id`, `name`, and `timestamp` (events at or',
          'after that time, as The Eye did). Without `page` or `page_size`, the answer is a plain JSON array of',
          'every matching event, as the original answers, streamed as it is read. With either, it is one page',
          '`{count, next, previous, results}`: `page` (from 1) of `page_size` events (default 100, at most 1,000);',
          '`next`/`previous` are the URLs of the neighbouring pages, or null. Any other parameter is a 400.',
        ].join(' '),
        querystring: EventsQuery,
        response: { 200: z.union([EventList, PagedEvents]) },
      },
    },
    async (request, reply) => {
      const { category, session_id, name, timestamp, page, page_size } = request.query
      const filter = {
        ...(await scope(request)),
        category: category ?? '',
        session: session_id ?? '',
        name: name ?? '',
        since: timestamp ?? 0,
      }
      // Every answer reads the source's events from `since` on.
      const dependsOn: AnswerScope = {
        accountId: filter.accountId,
        sourceId: filter.sourceId,
        fromHour: floorHour(filter.since),
        toHour: Number.POSITIVE_INFINITY,
      }
      if (page === undefined && page_size === undefined) {
        const batch = async (before: number) =>
          (await runQuery(deps.warehouse, eventsBeforeQuery, { ...filter, before, limit: STREAM_BATCH })).map(
            toEyeEvent,
          )
        const key = answerKey('theEyeAllEvents', filter.accountId, filter)
        const kept = deps.readCache?.get(key)
        if (kept) return sendJson(reply, kept)
        const mark = deps.readCache?.mark() ?? 0
        // The first batch is read before answering: a failure is still an error status, not a cut array.
        const first = await batch(Number.MAX_SAFE_INTEGER)
        if (first.length < STREAM_BATCH) {
          // All of it in one batch: answered, and kept, as one piece.
          const json = Buffer.from(JSON.stringify(first))
          deps.readCache?.store(key, json, dependsOn, mark)
          return sendJson(reply, json)
        }
        async function* rest() {
          let last = first
          while (last.length === STREAM_BATCH) {
            last = await batch(last.at(-1)!.id)
            yield last
          }
        }
        const stream = Readable.from(jsonArray(first, rest()))
        // A stream is sent as it is, unserialised: its text is the array the schema describes.
        return reply
          .type('application/json; charset=utf-8')
          .send(stream as unknown as z.infer<typeof EventList>)
      }
      const size = page_size ?? PAGE_SIZE
      const number = page ?? 1
      const pageUrl = (n: number) => {
        const url = new URL(request.url, `${request.protocol}://${request.host}`)
        url.searchParams.set('page', String(n))
        return url.toString()
      }
      const key = answerKey('theEyeEvents', filter.accountId, {
        ...filter,
        size,
        number,
        url: pageUrl(number),
      })
      const json = await cachedAnswer(deps.readCache, key, async () => {
        const rows = await runQuery(deps.warehouse, latestEventsCountedQuery, {
          ...filter,
          offset: (number - 1) * size,
          limit: size,
        })
        // A page past the last has no row to carry the count.
        const count = rows[0]?.total ?? (await runQuery(deps.warehouse, countEventsQuery, filter))[0]?.n ?? 0
        const answer: z.infer<typeof PagedEvents> = {
          count,
          next: number * size < count ? pageUrl(number + 1) : null,
          previous: number > 1 ? pageUrl(number - 1) : null,
          results: rows.map(toEyeEvent),
        }
        return { json: JSON.stringify(answer), scope: dependsOn }
      })
      return sendJson(reply, json)
    },
  )

  app.get(
    '/event_detail/:id/',
    {
      schema: {
        tags,
        summary: 'One event by its id',
        params: z.object({ id: z.string().max(32) }),
        response: { 200: TheEyeEvent },
      },
    },
    async (request) => {
      const { id } = request.params
      const position = /^\d{1,15}$/.test(id) ? Number(id) : null
      if (position === null) throw errors.notFound(`the event "${id}"`)
      const [row] = await runQuery(deps.warehouse, eventAtPositionQuery, {
        ...(await scope(request)),
        position,
      })
      if (!row) throw errors.notFound(`the event ${id}`)
      return toEyeEvent(row)
    },
  )
}
