import {
  accountInBody,
  authenticateFirst,
  authenticateTheEye,
  type ControlPlane,
  creationRoute,
  credentialsRoute,
  type EyePrincipal,
  isEyeToken,
  type Session,
  type Source,
  theEyeCredential,
  theEyeSourceId,
} from '@hourglass/control'
import { errors, freeFormObject, HourglassError, producerId, TheEyeEvent } from '@hourglass/schemas'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { allowEmptyJsonBody } from '../apps/appAnalyticsWriteRoutes.ts'
import { appendSingleEvent } from '../apps/appendSingleEvent.ts'
import type { IngestDeps } from '../ingestRoutes.ts'

const tags = ['compat: the-eye']

const invalidCredentials = () =>
  new HourglassError('INVALID_CREDENTIALS', 'unable to log in with the provided credentials')

/**
 * Whom a sign-in speaks for: the account whose e-mail address the username is, or a member with
 * that username and a role in an account (the analyst role; `account` picks one of several).
 */
const signIn = async (
  controlPlane: ControlPlane,
  { username, password, account }: { username: string; password: string; account?: string | undefined },
): Promise<EyePrincipal> => {
  const owner = await controlPlane.checkPassword(username, password)
  if (owner) {
    if (account !== undefined && account !== owner.accountId) throw invalidCredentials()
    return { accountId: owner.accountId, memberId: null }
  }
  const member = await controlPlane.checkMemberPassword(username, password)
  if (!member) throw invalidCredentials()
  const accounts = await controlPlane.analystAccounts(member.userId)
  if (account !== undefined) {
    if (!accounts.includes(account)) throw errors.forbidden('you have no role in this account')
    return { accountId: account, memberId: member.userId }
  }
  if (accounts.length === 0)
    throw errors.forbidden(
      'no account has given you a role yet: its admin grants one with PUT /v1/account/analysts/<username>',
    )
  if (accounts.length > 1)
    throw errors.invalidRequest([
      {
        path: 'account',
        message: `you have a role in ${accounts.length} accounts: name one (${accounts.join(', ')})`,
      },
    ])
  return { accountId: accounts[0]!, memberId: member.userId }
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

const EventBody = z.object({
  session_id: producerId(200),
  category: producerId(50),
  name: producerId(150),
  data: freeFormObject({ error: 'must be a JSON object' }).refine((data) => Object.keys(data).length > 0, {
    error: "The data can't be empty.",
  }),
  timestamp: TheEyeTime,
})

/** Paths of the event as Hourglass holds it, in The Eye's terms. */
const toEyePath = (path: string) =>
  path === 'session' ? 'session_id' : path.startsWith('attrs.') ? `data.${path.slice('attrs.'.length)}` : path

/** The Eye (seed 002), write side: tokens, sessions and events of the caller's account. */
export const theEyeCompatWrites: FastifyPluginAsync<IngestDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()
  const { controlPlane } = deps

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
  const caller = authenticateFirst((request) => authenticateTheEye(deps, request))
  const callerSource = async (request: FastifyRequest) => eyeSource((await caller(request)).accountId)

  app.post(
    '/api-token-auth/',
    {
      config: credentialsRoute(accountInBody('account', 'username')),
      schema: {
        tags,
        summary: 'Exchange a username and password for a token that lives until revoked or expired',
        description: [
          'The username is the account e-mail address, or the username of a member whom the account admin granted',
          'a role (PUT /v1/account/analysts/<username>); a member with roles in several accounts names one in',
          '`account`. The token is 40 hexadecimal characters, as Django REST framework issues them, and stays',
          'valid until revoked with DELETE /compat/the-eye/api-token-auth/ (a member token also ends when the',
          'role is revoked), or until it expires (HOURGLASS_ISSUED_TOKEN_LIFETIME_SECONDS, 30 days by default; then',
          'it is answered 401). Each sign-in issues a new token; earlier ones stay valid.',
        ].join(' '),
        body: z.object({
          username: z.string().min(1).max(254),
          password: z.string().min(1).max(256),
          account: z.string().min(1).max(64).optional(),
        }),
        response: { 200: z.object({ token: z.string() }) },
      },
    },
    async (request) => {
      const principal = await signIn(controlPlane, request.body)
      request.log.info({ accountId: principal.accountId }, 'The Eye token issued')
      return { token: await controlPlane.theEyeTokens.issue(principal) }
    },
  )

  app.delete(
    '/api-token-auth/',
    {
      onRequest: allowEmptyJsonBody,
      schema: {
        tags,
        summary: 'Revoke the token the request carries (sign out)',
        description:
          'Send the token to revoke as "Authorization: Token <token>": it is refused from then on, by every ' +
          'Hourglass process. Account tokens of the native API are not revocable here; they expire by themselves.',
        response: { 204: z.null() },
      },
    },
    async (request, reply) => {
      const token = theEyeCredential(request)
      if (!token) throw errors.unauthenticated('send the token to revoke as "Authorization: Token <token>"')
      if (!isEyeToken(token))
        throw errors.invalidRequest([
          {
            path: 'authorization',
            message: 'is not a token from /api-token-auth/: account tokens expire by themselves',
          },
        ])
      if (!(await controlPlane.theEyeTokens.revoke(token)))
        throw errors.unauthenticated('the token is not valid: unknown or revoked')
      return reply.code(204).send(null)
    },
  )

  app.post(
    '/sessions/',
    {
      onRequest: [caller.onRequest, allowEmptyJsonBody],
      config: creationRoute,
      schema: { tags, summary: 'Create a session', response: { 201: SessionView } },
    },
    async (request, reply) => {
      const source = await callerSource(request)
      const session = await controlPlane.apps.startSession(source)
      return reply.code(201).send(sessionView(session))
    },
  )

  app.get(
    '/sessions/',
    {
      onRequest: caller.onRequest,
      schema: {
        tags,
        summary: 'List the live sessions, oldest first',
        response: { 200: z.array(SessionView) },
      },
    },
    async (request) => {
      const source = await callerSource(request)
      return (await controlPlane.apps.listSessions(source.sourceId)).map(sessionView)
    },
  )

  app.post(
    '/events/',
    {
      onRequest: caller.onRequest,
      schema: {
        tags,
        summary: 'Add an event of a session',
        description: [
          '`session_id` must be a session created with POST /sessions/; `data` is a JSON object that must not be',
          'empty; `timestamp` like "2021-01-01 09:15:27.243860" (UTC unless it has a zone), not in the future.',
          'Answers 201 with the stored event once it is durable; its `id` is its position in the log.',
        ].join(' '),
        body: EventBody,
        response: { 201: TheEyeEvent },
      },
    },
    async (request, reply) => {
      const receivedAt = Date.now()
      const source = await callerSource(request)
      // The account's tokens speak for the account, not the source: a revoked source sends nothing with them either.
      await controlPlane.revocations.refuseIfRevoked(source.sourceId)
      const { session_id, category, name, data, timestamp } = request.body
      if (timestamp > receivedAt)
        throw errors.invalidRequest([{ path: 'timestamp', message: "The timestamp can't be in the future." }])
      const result = await appendSingleEvent(
        deps,
        source,
        { name, category, session: session_id, timestamp, attrs: data },
        { receivedAt },
      )
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
