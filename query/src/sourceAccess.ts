import { errors } from '@hourglass/schemas'
import type { FastifyRequest } from 'fastify'
import { z } from 'zod'

export interface SourceAccessDeps<S> {
  /** The account a request speaks for (a 401 when it speaks for none). */
  authenticate(request: FastifyRequest): Promise<{ accountId: string }>
  /** Sources by id, only when owned by the account. */
  readonly sources: { findOwned(accountId: string, sourceId: string): Promise<S | null> }
}

/** The caller's account and one of its sources; any other source is a 404, whoever owns it. */
export async function ownedSource<S>(deps: SourceAccessDeps<S>, request: FastifyRequest, sourceId: string) {
  const { accountId } = await deps.authenticate(request)
  const source = await deps.sources.findOwned(accountId, sourceId)
  if (!source) throw errors.notFound('the source')
  return { accountId, sourceId, source }
}

/** Keyset cursor over (event time, log position), opaque to clients. */
export const EventCursor = z
  .string()
  .max(200)
  .transform((value, ctx) => {
    const [ts, position] = Buffer.from(value, 'base64url').toString('utf8').split(':').map(Number)
    if (!Number.isSafeInteger(ts) || !Number.isSafeInteger(position)) {
      ctx.addIssue({ code: 'custom', message: 'is not a cursor this API returned' })
      return z.NEVER
    }
    return { ts: ts!, position: position! }
  })

export const encodeEventCursor = (ts: number, position: number) =>
  Buffer.from(`${ts}:${position}`).toString('base64url')

/** Where a keyset page starts: past the cursor, or from the start of the period. */
export const keysetStart = (cursor: { ts: number; position: number } | undefined, from: number) => ({
  afterTs: cursor?.ts ?? from - 1,
  afterPosition: cursor?.position ?? 0,
})

/**
 * One page of rows read `limit + 1` at a time (the extra row says whether there is more), and the
 * cursor of the next page, null on the last.
 */
export const keysetPage = <Row extends { ts_ms: number; position: number }>(
  rows: readonly Row[],
  limit: number,
) => {
  const page = rows.slice(0, limit)
  const last = page[page.length - 1]
  return {
    page,
    nextCursor: rows.length > limit && last ? encodeEventCursor(last.ts_ms, last.position) : null,
  }
}
