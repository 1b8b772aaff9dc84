import { errors, isAppCodeOf, sourceIdOfAppCode } from '@hourglass/schemas'
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { type AppAnalyticsReadDeps, readUserStatistics } from '../appAnalyticsReadRoutes.ts'
import { sendJson } from '../jsonAnswer.ts'
import { QueryTime } from '../queryTime.ts'
import { answerKey, cachedAnswer, ceilHour, floorHour, type ReadCache } from '../readCache.ts'

export interface CompatReadDeps extends Omit<AppAnalyticsReadDeps, 'sources'> {
  /** Apps by id, with their names: an app code holds both. */
  readonly sources: {
    findOwned(accountId: string, sourceId: string): Promise<{ sourceId: string; name: string } | null>
  }
  /**
   * Waits, at most `timeoutMs`, until the projection has applied what this process appended to
   * the source; false when it had not by then (the answer may then miss the latest events).
   */
  awaitProjected(sourceId: string, timeoutMs: number): Promise<boolean>
  /** Answers kept until the projections of this process write what they read. */
  readonly readCache?: ReadCache
}

/** How long a read waits for the events just accepted to reach the projections. */
export const READ_YOUR_WRITES_MS = 1000

const UserStatistics = z.array(z.record(z.string(), z.union([z.string(), z.number()])))

/** Most users in one statistics answer: Metrica's has no paging. */
const MAX_USERS = 1_000_000

/** Metrica (seed 000), read side: per-user statistics of an app's event, by app and event code. */
export const metricaCompatReads: FastifyPluginAsync<CompatReadDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()

  app.get(
    '/:app_code/:event_code',
    {
      schema: {
        tags: ['compat: metrica'],
        summary: 'Per-user statistics of an event of an app',
        description: [
          "One object per user: `user_code`, then one key per value of the event's first string attribute, valued",
          'with the sum of its first integer attribute (the count of events when it has none). Events that carry',
          "no value of an attribute count as if the event had no such attribute (under the event's name, once).",
          "403 without a valid jwt_token; 404 for an app or event code that is not one of the user's. Optional",
          '`from`/`to` (ISO-8601 or epoch ms, whole hours); any other parameter is a 400.',
        ].join(' '),
        params: z.object({ app_code: z.string().min(1).max(128), event_code: z.string().min(1).max(300) }),
        querystring: z.strictObject({ from: QueryTime.optional(), to: QueryTime.optional() }),
        response: { 200: UserStatistics },
      },
    },
    async (request, reply) => {
      const { accountId } = await deps.authenticate(request)
      const { app_code, event_code } = request.params
      const sourceId = sourceIdOfAppCode(app_code)
      const source = sourceId === null ? null : await deps.sources.findOwned(accountId, sourceId)
      if (!source || !isAppCodeOf(app_code, source)) throw errors.notFound(`the app "${app_code}"`)
      const definition = await deps.findDefinition(source.sourceId, event_code)
      if (!definition) throw errors.notFound(`the event "${event_code}" of this app`)
      await deps.awaitProjected(source.sourceId, READ_YOUR_WRITES_MS)
      const { from, to } = request.query
      const key = answerKey('metricaStats', accountId, {
        sourceId: source.sourceId,
        name: definition.name,
        from,
        to,
      })
      const json = await cachedAnswer(deps.readCache, key, async () => {
        const users = await readUserStatistics(
          deps.warehouse,
          { accountId, sourceId: source.sourceId },
          definition,
          { from, to, limit: MAX_USERS },
        )
        // A key equal to "user_code" cannot stand beside the user's code; the code wins.
        const answer: z.infer<typeof UserStatistics> = users.map(({ user, values }) => ({
          user_code: user,
          ...Object.fromEntries(Object.entries(values).filter(([key]) => key !== 'user_code')),
        }))
        const scope = {
          accountId,
          sourceId: source.sourceId,
          fromHour: floorHour(from ?? 0),
          toHour: to === undefined ? Number.POSITIVE_INFINITY : ceilHour(to),
        }
        return { json: JSON.stringify(answer), scope }
      })
      return sendJson(reply, json)
    },
  )
}
