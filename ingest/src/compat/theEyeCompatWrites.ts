import { createHash } from 'node:crypto'
import { errors, freeFormObject, HourglassError, producerId } from '@hourglass/schemas'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { credentialFrom } from '../apiTokens.ts'
import { allowEmptyJsonBody } from '../apps/appAnalyticsWriteRoutes.ts'
import type { Session } from '../apps/appControl.ts'
import { appendSingleEvent } from '../apps/appendSingleEvent.ts'
import type { Source } from '../controlPlane.ts'
import type { IngestDeps } from '../ingestRoutes.ts'
import type { UserPrincipal, UserTokens } from '../userTokens.ts'

const tags = ['compat: the-eye']

/** The token from `/api-token-auth/`, sent as `Authorization: Token <token>` (or `Bearer`). */
export const authenticateTheEye = async (
  userTokens: UserTokens,
  request: FastifyRequest,
): Promise<UserPrincipal> => {
  const header = request.headers.authorization
  const token = credentialFrom(header, 'Token') ?? credentialFrom(header, 'Bearer')
  if (!token)
    throw errors.unauthenticated('send the token from /api-token-auth/ as "Authorization: Token <token>"')
  return userTokens.verify(token)
}

/**
 * The Eye has no apps: each account's sessions and events belong to one source of kind `site`,
 * named "the-eye", whose id derives from the account (so it is created once, however many
 * requests race to create it).
 */
export const theEyeSourceId = (accountId: string): string => {
  const hex = createHash('sha256').update(`the-eye\u0000${accountId}`).digest('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-b${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}

/**
 * The Eye's timestamps: `2021-01-01 09:15:27.243860` or ISO-8601, with or without a zone (none
 * means UTC, as The Eye's Django settings had it). Fractions beyond milliseconds are dropped.
 */
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/
export const parseTheEyeTime = (value: string): number | null => {
  const match = DATE_TIME.exec(value.trim())
  if (!match) return null
  const [, date = '', hoursMinutes, seconds = ':00', zone = 'Z'] = match
  const [year, month, day] = date.split('-').map(Number) as [number, number, number]
  // Date.parse would roll 2021-02-31 over to March: a day the month does not have is refused here.
  if (month < 1 || month > 12 || day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return null
  const [whole, fraction = ''] = seconds.split('.')
  const offset = zone === 'Z' || zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`
  const ms = Date.parse(`${date}T${hoursMinutes}${whole}.${fraction.padEnd(3, '0').slice(0, 3)}${offset}`)
  return Number.isFinite(ms) ? ms : null
}

export const TheEyeTime = z
  .string()
  .max(64)
  .transform((value, ctx) => {
    const ms = parseTheEyeTime(value)
    if (ms === null) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be a date and time such as "2021-01-01 09:15:27.243860"',
      })
      return z.NEVER
    }
    return ms
  })

const SessionView = z.object({ id: z.string(), created_at: z.string() })
const sessionView = (session: Session) => ({
  id: session.sessionId,
  created_at: new Date(session.startedAt).toISOString(),
})

/** An event as The Eye shows it; `id` is the event's position in the log. */
export const TheEyeEvent = z.object({
  id: z.number(),
  session_id: z.string(),
  category: z.string(),
  name: z.string(),
  data: z.record(z.string(), z.unknown()),
  timestamp: z.string(),
})

const EventBody = z.object({
  session_id: producerId(200),
  category: producerId(50),
  name: producerId(150),
  data: freeFormObject({ error: 'must be a JSON object' }),
  timestamp: TheEyeTime,
})

/** Paths of the event as Hourglass holds it, in The Eye's terms. */
const toEyePath = (path: string) =>
  path === 'session' ? 'session_id' : path.startsWith('attrs.') ? `data.${path.slice('attrs.'.length)}` : path

/** The Eye (seed 002), write side: tokens, sessions and events of the caller's account. */
export const theEyeCompatWrites: FastifyPluginAsync<IngestDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()
  const { controlPlane, userTokens } = deps

  /** The account's The Eye source, created on first use; it refuses events of sessions it does not know. */
  const eyeSource = async (accountId: string): Promise<Source> => {
    const sourceId = theEyeSourceId(accountId)
    const existing = await controlPlane.findOwned(accountId, sourceId)
    if (existing) return existing
    await controlPlane.apps.claimSource(accountId, {
      sourceId,
      kind: 'site',
      name: 'the-eye',
      settings: { undefinedEvents: 'accept', unknownSessions: 'reject' },
    })
    const source = await controlPlane.findOwned(accountId, sourceId)
    if (!source) throw errors.unavailable('the account is not ready for The Eye yet; retry')
    return source
  }
  const callerSource = async (request: FastifyRequest) =>
    eyeSource((await authenticateTheEye(userTokens, request)).accountId)

  const both = (path: string) => [path, `${path}/`]

  for (const url of both('/api-token-auth')) {
    app.post(
      url,
      {
        schema: {
          tags,
          hide: url.endsWith('/') === false,
          summary: 'Exchange an account e-mail address (as username) and password for a token',
          body: z.object({ username: z.string().min(1).max(254), password: z.string().min(1).max(256) }),
          response: { 200: z.object({ token: z.string() }) },
        },
      },
      async (request) => {
        const account = await controlPlane.checkPassword(request.body.username, request.body.password)
        if (!account)
          throw new HourglassError(
            'INVALID_CREDENTIALS',
            400,
            'unable to log in with the provided credentials',
          )
        return { token: await userTokens.issue(account) }
      },
    )
  }

  for (const url of both('/sessions')) {
    app.post(
      url,
      {
        onRequest: allowEmptyJsonBody,
        schema: {
          tags,
          hide: url.endsWith('/') === false,
          summary: 'Create a session',
          response: { 201: SessionView },
        },
      },
      async (request, reply) => {
        const source = await callerSource(request)
        const session = await controlPlane.apps.startSession(source)
        return reply.code(201).send(sessionView(session))
      },
    )

    app.get(
      url,
      {
        schema: {
          tags,
          hide: url.endsWith('/') === false,
          summary: 'List the sessions, oldest first',
          response: { 200: z.array(SessionView) },
        },
      },
      async (request) => {
        const source = await callerSource(request)
        return (await controlPlane.apps.listSessions(source.sourceId)).map(sessionView)
      },
    )
  }

  for (const url of both('/events')) {
    app.post(
      url,
      {
        schema: {
          tags,
          hide: url.endsWith('/') === false,
          summary: 'Add an event of a session',
          description: [
            '`session_id` must be a session created with POST /sessions/; `data` is any JSON object;',
            '`timestamp` like "2021-01-01 09:15:27.243860" (UTC unless it has a zone). Answers 201 with the stored',
            'event once it is durable; its `id` is its position in the log.',
          ].join(' '),
          body: EventBody,
          response: { 201: TheEyeEvent },
        },
      },
      async (request, reply) => {
        const source = await callerSource(request)
        const { session_id, category, name, data, timestamp } = request.body
        const result = await appendSingleEvent(deps, source, {
          name,
          category,
          session: session_id,
          timestamp,
          attrs: data,
        })
        if (result.status === 'rejected') {
          const issues = result.issues.map((issue) => ({
            path: toEyePath(issue.path),
            message: issue.message,
          }))
          throw errors.invalidRequest(issues)
        }
        return reply.code(201).send({
          id: result.position,
          session_id,
          category,
          name,
          data: result.event.attrs,
          timestamp: new Date(result.event.timestamp).toISOString(),
        })
      },
    )
  }
}
