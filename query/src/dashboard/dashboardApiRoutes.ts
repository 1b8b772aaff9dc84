import { type ProjectionProgress, quarantinedOfStream } from '@hourglass/projections'
import { errors, type SourceKind, SourceParams, telemetryStream } from '@hourglass/schemas'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { TimeRange } from '../queryTime.ts'
import { ownedSource } from '../sourceAccess.ts'
import { runQuery, type WarehouseReader } from '../warehouseReader.ts'
import {
  deviceSeriesQuery,
  fleetCatalogueQuery,
  freshnessQuery,
  OVERVIEW_TOP_NAMES,
  overviewQueries,
  storeDailyQuery,
} from './dashboardQueries.ts'

export interface DashboardApiDeps {
  readonly warehouse: WarehouseReader
  /** The account a request speaks for (a 401 when it speaks for none). */
  authenticate(request: FastifyRequest): Promise<{ accountId: string }>
  /** Sources by id, only when owned by the account. */
  readonly sources: {
    findOwned(accountId: string, sourceId: string): Promise<{ sourceId: string; kind: SourceKind } | null>
  }
  /** Each projection's progress through the log. */
  projectionProgress(): Promise<readonly ProjectionProgress[]>
}

const iso = (ms: number) => new Date(ms).toISOString()
const HOUR_MS = 3600_000

/**
 * Reads the dashboard needs beyond the rollup and event APIs: freshness and projection lag,
 * an overview of any kind of source, store statistics and device series with an account token.
 */
export const dashboardApiRoutes: FastifyPluginAsync<DashboardApiDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()
  const tags = ['dashboard']

  const owned = async (request: FastifyRequest, sourceId: string) => {
    const { accountId, source } = await ownedSource(deps, request, sourceId)
    return { accountId, sourceId, kind: source.kind }
  }
  const ownedOfKind = async (request: FastifyRequest, sourceId: string, kind: SourceKind) => {
    const source = await owned(request, sourceId)
    if (source.kind !== kind) throw errors.conflict(`the source is a ${source.kind}, not a ${kind}`)
    return source
  }

  app.get(
    '/v1/sources/:id/freshness',
    {
      schema: {
        tags,
        summary: "The source's newest record and how far the projections lag behind the log",
        description: [
          '`newestEventAt`: the latest event time of any record of the source (generic events and the records',
          'of its kind) in the warehouse; `lastReceivedAt`: when the latest of them arrived; both null before the',
          'first. `lag`: log records not yet applied by the slowest projection (0 when every projection is caught',
          'up), and per projection. A record counts here once its projection has applied it.',
          '`heldUp`: a projection is stalled (its batches fail and are retried), so newer data waits;',
          '`quarantined`: records of this source that a projection could not apply and set aside (an operator',
          're-drives or drops them); per projection, `stalledSince` and `quarantined` likewise.',
        ].join(' '),
        params: SourceParams,
        response: {
          200: z.object({
            newestEventAt: z.string().nullable(),
            lastReceivedAt: z.string().nullable(),
            records: z.number(),
            lag: z.number(),
            heldUp: z.boolean(),
            quarantined: z.number(),
            projections: z.array(
              z.object({
                projection: z.string(),
                lag: z.number(),
                stalledSince: z.string().nullable(),
                quarantined: z.number(),
              }),
            ),
            checkedAt: z.string(),
          }),
        },
      },
    },
    async (request) => {
      const { accountId, sourceId, kind } = await owned(request, request.params.id)
      const [rows, progress, held] = await Promise.all([
        runQuery(deps.warehouse, freshnessQuery(kind), { accountId, sourceId }),
        deps.projectionProgress(),
        runQuery(deps.warehouse, quarantinedOfStream, { stream: telemetryStream(sourceId) }),
      ])
      const row = rows[0] ?? { newest_ms: 0, received_ms: 0, records: 0 }
      return {
        newestEventAt: row.records > 0 ? iso(row.newest_ms) : null,
        lastReceivedAt: row.records > 0 && row.received_ms > 0 ? iso(row.received_ms) : null,
        records: row.records,
        lag: Math.max(0, ...progress.map((p) => p.lag)),
        heldUp: progress.some((p) => p.stalledSince !== null),
        quarantined: held[0]?.held ?? 0,
        projections: progress.map((p) => ({
          projection: p.projection,
          lag: p.lag,
          stalledSince: p.stalledSince,
          quarantined: p.quarantined,
        })),
        checkedAt: iso(Date.now()),
      }
    },
  )

  app.get(
    '/v1/sources/:id/overview',
    {
      schema: {
        tags,
        summary: 'Records and distinct users per hour, and the top names, of any kind of source',
        description: [
          'Generic events plus the records of the source kind: store events (named by type, users are people),',
          'receipts (named "receipt", users are places), device readings (one per metric value, named by metric,',
          'users are devices). `from`/`to`: ISO-8601 or epoch ms (default: the last 7 days); whole UTC hours.',
          `\`names\`: the ${OVERVIEW_TOP_NAMES} busiest names; \`byName\`: their records per hour.`,
        ].join(' '),
        params: SourceParams,
        querystring: TimeRange,
        response: {
          200: z.object({
            from: z.string(),
            to: z.string(),
            hours: z.array(z.object({ hour: z.string(), events: z.number(), users: z.number() })),
            names: z.array(z.object({ name: z.string(), events: z.number(), users: z.number() })),
            byName: z.array(z.object({ hour: z.string(), name: z.string(), events: z.number() })),
          }),
        },
      },
    },
    async (request) => {
      const { accountId, sourceId, kind } = await owned(request, request.params.id)
      const { from, to } = request.query
      const params = { accountId, sourceId, from, to }
      const queries = overviewQueries(kind)
      // chDB answers one query at a time: running them one after the other costs nothing.
      const hours = await runQuery(deps.warehouse, queries.hours, params)
      const names = await runQuery(deps.warehouse, queries.names, params)
      const byName = await runQuery(deps.warehouse, queries.hoursByName, params)
      return {
        from: iso(Math.floor(from / HOUR_MS) * HOUR_MS),
        to: iso(to),
        hours: hours.map((h) => ({ hour: iso(h.hour_s * 1000), events: h.events, users: h.users })),
        names,
        byName: byName.map((h) => ({ hour: iso(h.hour_s * 1000), name: h.name, events: h.events })),
      }
    },
  )

  app.get(
    '/v1/sources/:id/store-stats/daily',
    {
      schema: {
        tags,
        summary: 'Events and average duration per UTC day and type of a store, with the account token',
        description: [
          "The figures of `/v1/store-stats/*` for every type at once, read by the store's account. The average",
          'duration (seconds) counts only events with a numeric `duration`; null when none has one.',
          '`from`/`to`: ISO-8601 or epoch ms (default: the last 7 days).',
        ].join(' '),
        params: SourceParams,
        querystring: TimeRange,
        response: {
          200: z.object({
            days: z.array(
              z.object({
                date: z.string(),
                type: z.string(),
                events: z.number(),
                /** Events with a numeric `duration`: the ones the average counts. */
                timedEvents: z.number(),
                averageDuration: z.number().nullable(),
              }),
            ),
          }),
        },
      },
    },
    async (request) => {
      const { accountId, sourceId } = await ownedOfKind(request, request.params.id, 'store')
      const rows = await runQuery(deps.warehouse, storeDailyQuery, { accountId, sourceId, ...request.query })
      return {
        days: rows.map((r) => ({
          date: r.day,
          type: r.type,
          events: r.events,
          timedEvents: r.duration_count,
          averageDuration: r.duration_count > 0 ? r.duration_sum / r.duration_count : null,
        })),
      }
    },
  )

  app.get(
    '/v1/sources/:id/device-series',
    {
      schema: {
        tags,
        summary: "A metric's min, mean, max, median and p95 over time, for a fleet or one device",
        description: [
          'Buckets of `bucket` whole UTC hours (1 to 168; default 1) from hourly aggregate states; median and p95',
          'are t-digest estimates as in the device summaries. Without `metric`, the first metric of the fleet.',
          '`metrics` and `devices` list what the fleet has readings of. `from`/`to`: as for the overview.',
        ].join(' '),
        params: SourceParams,
        querystring: z
          .object({
            metric: z.string().min(1).max(200).optional(),
            device: z.string().min(1).max(200).optional(),
            bucket: z.coerce.number().int().min(1).max(168).default(1),
          })
          .and(TimeRange),
        response: {
          200: z.object({
            metric: z.string().nullable(),
            metrics: z.array(z.string()),
            devices: z.array(z.string()),
            points: z.array(
              z.object({
                time: z.string(),
                count: z.number(),
                min: z.number(),
                mean: z.number(),
                max: z.number(),
                median: z.number(),
                p95: z.number(),
              }),
            ),
          }),
        },
      },
    },
    async (request) => {
      const { accountId, sourceId } = await ownedOfKind(request, request.params.id, 'device')
      const { metric: asked, device, bucket, from, to } = request.query
      const [catalogue] = await runQuery(deps.warehouse, fleetCatalogueQuery, { accountId, sourceId })
      const metrics = catalogue?.metrics ?? []
      const metric = asked ?? metrics[0] ?? null
      const rows =
        metric === null
          ? []
          : await runQuery(deps.warehouse, deviceSeriesQuery, {
              accountId,
              sourceId,
              from,
              to,
              metric,
              deviceId: device ?? '',
              bucketHours: bucket,
            })
      return {
        metric,
        metrics,
        devices: catalogue?.devices ?? [],
        points: rows.map((row) => ({
          time: iso(row.bucket_s * 1000),
          count: row.n,
          min: row.lo,
          mean: row.total / row.n,
          max: row.hi,
          median: row.qs[0]!,
          p95: row.qs[1]!,
        })),
      }
    },
  )
}
