import {
  accountInBody,
  authenticateFirst,
  authenticateUser,
  type ControlPlane,
  credentialFrom,
  credentialsRoute,
  type MemberTokens,
  type Source,
  type UserTokens,
} from '@hourglass/control'
import type { TelemetryLog } from '@hourglass/log'
import { errors, ReceiptInput, ReceiptView, toReceiptView } from '@hourglass/schemas'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { appendReceipt, authenticateReceiptSource } from './appendReceipt.ts'

export interface ReceiptIngestDeps {
  readonly telemetry: TelemetryLog
  readonly controlPlane: ControlPlane
  readonly userTokens: UserTokens
  readonly memberTokens: MemberTokens
}

/** Django's username rule: letters, digits and @ . + - _, at most 150. */
export const Username = z
  .string()
  .regex(/^[\p{L}\p{N}@.+_-]{1,150}$/u, { error: 'must be 1 to 150 letters, digits or @ . + - _' })
/** Six characters at least: seed 003's own example password ("secret") has six. */
export const MemberPassword = z.string().min(6, { error: 'must be at least 6 characters' }).max(256)

/**
 * The source of each receipt request, found before its body is validated: a request without a
 * valid place or store token gets a 401 whatever its body holds.
 */
export const receiptSources = new WeakMap<FastifyRequest, Source>()
export const authenticateReceiptRequest = (controlPlane: ControlPlane) => async (request: FastifyRequest) => {
  receiptSources.set(request, await authenticateReceiptSource(controlPlane, request))
}
export const receiptSourceOf = (request: FastifyRequest): Source => {
  const source = receiptSources.get(request)
  if (!source) throw errors.unauthenticated('the API token is not valid')
  return source
}

const RECEIPT_DESCRIPTION = [
  "Authenticated with a place or store source's API token. A receipt as seed 003 defines it: `transaction_id`",
  '(the idempotency key: a re-sent receipt is answered 200 `duplicate` and counted once; a different receipt',
  'under a used id is a 409), `timestamp` (ISO-8601; UTC when it has no zone), `items` (`product_id`, `quantity`',
  '(a whole number ≥ 1), `price`, `category`), `total_amount` (must equal Σ quantity × price to the cent),',
  '`nds_amount` (VAT) and `tips_amount` (separate figures), `payment_method`, `place_id`, `place_name`.',
  'Money: a JSON number or decimal text, non-negative, at most two decimals. Other fields are ignored.',
].join(' ')

/** Receipts from points of sale, the members who read their analytics, and the analyst role. */
export const receiptRoutes: FastifyPluginAsync<ReceiptIngestDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()
  const { telemetry, controlPlane, userTokens, memberTokens } = deps
  const account = authenticateFirst((request) => authenticateUser(userTokens, request))
  const byUsername = credentialsRoute(accountInBody('member', 'username'))

  const ReceiptAnswer = z.object({ status: z.enum(['accepted', 'duplicate']), receipt: ReceiptView })

  app.post(
    '/v1/receipts',
    {
      onRequest: authenticateReceiptRequest(controlPlane),
      schema: {
        tags: ['receipts'],
        summary: 'Send a purchase receipt',
        description: RECEIPT_DESCRIPTION,
        body: ReceiptInput,
        response: { 200: ReceiptAnswer, 201: ReceiptAnswer },
      },
    },
    async (request, reply) => {
      const outcome = await appendReceipt(telemetry, receiptSourceOf(request), request.body)
      return reply
        .code(outcome.status === 'accepted' ? 201 : 200)
        .send({ status: outcome.status, receipt: toReceiptView(outcome.position, outcome.receipt) })
    },
  )

  const Credentials = z.strictObject({ username: Username, password: MemberPassword })

  app.post(
    '/v1/auth/members',
    {
      config: byUsername,
      schema: {
        tags: ['members'],
        summary: 'Register a member (a user who reads analytics once an account grants a role)',
        description:
          'Usernames are unique. A new member has no role: an account admin grants the analyst role.',
        body: Credentials,
        response: { 201: z.object({ userId: z.string(), username: z.string(), token: z.string() }) },
      },
    },
    async (request, reply) => {
      const member = await controlPlane.registerMember(request.body)
      request.log.info({ userId: member.userId }, 'member registered')
      return reply.code(201).send({
        userId: member.userId,
        username: member.username,
        token: await memberTokens.issue(member),
      })
    },
  )

  app.post(
    '/v1/auth/members/signin',
    {
      config: byUsername,
      schema: {
        tags: ['members'],
        summary: 'Sign in as a member and get a member token',
        body: z.strictObject({ username: z.string().min(1).max(150), password: z.string().min(1).max(256) }),
        response: { 200: z.object({ token: z.string() }) },
      },
    },
    async (request) => {
      const member = await controlPlane.checkMemberPassword(request.body.username, request.body.password)
      if (!member) throw errors.unauthenticated('the username or the password is wrong')
      return { token: await memberTokens.issue(member) }
    },
  )

  const member = authenticateFirst(async (request) => {
    const token = credentialFrom(request.headers.authorization)
    if (!token)
      throw errors.unauthenticated('send the token from member sign-in as "Authorization: Bearer <token>"')
    const { userId } = await memberTokens.verify(token)
    if (!(await controlPlane.findMember(userId))) throw errors.unauthenticated('the user does not exist')
    return userId
  })

  app.delete(
    '/v1/auth/members/me',
    {
      onRequest: member.onRequest,
      schema: {
        tags: ['members'],
        summary: 'Erase the calling member: their username becomes unreadable and free again',
        response: { 204: z.null() },
      },
    },
    async (request, reply) => {
      const userId = await member(request)
      await controlPlane.eraseMember(userId)
      request.log.info({ userId }, 'member erased')
      return reply.code(204).send(null)
    },
  )

  const AnalystView = z.object({ userId: z.string(), username: z.string(), analyst: z.boolean() })
  const UsernameParams = z.object({ username: Username })

  /** The account holder is its account's admin: only an account token may grant or revoke roles. */
  const setAnalyst = async (request: FastifyRequest, username: string, analyst: boolean) => {
    const { accountId } = await account(request)
    const member = await controlPlane.findMemberByUsername(username)
    if (!member) throw errors.notFound(`the user "${username}"`)
    await controlPlane.setAnalyst(accountId, member.userId, analyst)
    request.log.info({ accountId, userId: member.userId, analyst }, 'analyst role changed')
    return { userId: member.userId, username: member.username, analyst }
  }

  app.put(
    '/v1/account/analysts/:username',
    {
      onRequest: account.onRequest,
      schema: {
        tags: ['members'],
        summary: "Grant a member the analyst role in the caller's account (account admin only)",
        params: UsernameParams,
        response: { 200: AnalystView },
      },
    },
    (request) => setAnalyst(request, request.params.username, true),
  )

  app.delete(
    '/v1/account/analysts/:username',
    {
      onRequest: account.onRequest,
      schema: {
        tags: ['members'],
        summary: "Revoke a member's analyst role in the caller's account (account admin only)",
        params: UsernameParams,
        response: { 200: AnalystView },
      },
    },
    (request) => setAnalyst(request, request.params.username, false),
  )

  app.get(
    '/v1/account/analysts',
    {
      onRequest: account.onRequest,
      schema: {
        tags: ['members'],
        summary: "The members with the analyst role in the caller's account",
        response: {
          200: z.object({
            analysts: z.array(z.object({ userId: z.string(), username: z.string(), grantedAt: z.string() })),
          }),
        },
      },
    },
    async (request) => {
      const { accountId } = await account(request)
      return {
        analysts: (await controlPlane.listAnalysts(accountId)).map(({ member, grantedAt }) => ({
          userId: member.userId,
          username: member.username,
          grantedAt: new Date(grantedAt).toISOString(),
        })),
      }
    },
  )
}
